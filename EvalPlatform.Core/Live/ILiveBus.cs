namespace EvalPlatform.Core.Live;

/// <summary>
/// Pushes events to every open page of a team, on every node. Publishing never waits for
/// subscribers: each subscription has a bounded queue, and one that falls behind drops events
/// and then receives <see cref="ResyncNeeded"/>.
/// </summary>
public interface ILiveBus
{
    /// <summary>Publishes to all nodes. Returns once handed to the transport, not when delivered.</summary>
    Task PublishAsync(LiveEvent liveEvent, CancellationToken ct = default);

    /// <summary>Receives the team's events on this node until disposed.</summary>
    IDisposable Subscribe(Guid teamId, Func<LiveEvent, Task> handler);
}
