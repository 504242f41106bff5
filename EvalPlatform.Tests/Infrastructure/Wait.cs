using System.Diagnostics;

namespace EvalPlatform.Tests.Infrastructure;

/// <summary>
/// Waits on a condition, never on a length of time: returns as soon as it holds, fails the test naming what did not happen
/// once <c>timeout</c> (30 s unless given) has passed. The poll interval only bounds how late the test notices.
/// </summary>
public static class Wait
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(25);

    public static async Task UntilAsync(Func<Task<bool>> condition, string what, TimeSpan? timeout = null, Func<string>? onTimeout = null)
    {
        var limit = timeout ?? TimeSpan.FromSeconds(30);
        var clock = Stopwatch.StartNew();
        using var timer = new PeriodicTimer(Poll);
        while (!await condition())
        {
            Assert.True(clock.Elapsed < limit, $"Waited {limit.TotalSeconds} s for {what}." + (onTimeout is null ? "" : "\n" + onTimeout()));
            await timer.WaitForNextTickAsync();
        }
    }

    public static Task UntilAsync(Func<bool> condition, string what, TimeSpan? timeout = null) =>
        UntilAsync(() => Task.FromResult(condition()), what, timeout);
}
