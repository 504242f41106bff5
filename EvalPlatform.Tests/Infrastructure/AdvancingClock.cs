namespace EvalPlatform.Tests.Infrastructure;

/// <summary>
/// The real time plus what the test has added: time still passes for timers, cookies and circuits (a FakeTimeProvider
/// stands still, which a browser journey's app cannot live with), and a test can make minutes pass at once.
/// </summary>
public sealed class AdvancingClock : TimeProvider
{
    private long _addedTicks;

    public void Advance(TimeSpan by) => Interlocked.Add(ref _addedTicks, by.Ticks);

    public override DateTimeOffset GetUtcNow() => TimeProvider.System.GetUtcNow().AddTicks(Interlocked.Read(ref _addedTicks));
}
