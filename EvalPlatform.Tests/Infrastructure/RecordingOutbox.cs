using System.Collections.Concurrent;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Notifications;
using EvalPlatform.Core.Tenancy;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace EvalPlatform.Tests.Infrastructure;

/// <summary>
/// What a <see cref="RecordingOutbox"/> saw, for the whole test host: the events whose unit of work committed (an event
/// enqueued in a <c>SaveChangesAsync</c> that failed, or was never called, is not here), and the channels each team has.
/// </summary>
public sealed class NotificationRecorder
{
    private readonly ConcurrentQueue<NotificationEvent> _committed = new();

    public IReadOnlyList<NotificationEvent> Committed => [.. _committed];

    public IReadOnlyList<NotificationEvent> Of(Guid teamId) => [.. _committed.Where(e => e.TeamId == teamId)];

    /// <summary>Channel ids per team that <see cref="INotificationOutbox.UnknownChannelsAsync"/> knows.</summary>
    public ConcurrentDictionary<Guid, HashSet<Guid>> Channels { get; } = new();

    /// <summary>Teams whose enqueue throws (a notification that cannot be written).</summary>
    public ConcurrentDictionary<Guid, bool> FailFor { get; } = new();

    internal void Commit(IEnumerable<NotificationEvent> events)
    {
        foreach (var e in events)
        {
            _committed.Enqueue(e);
        }
    }
}

/// <summary>
/// A test double of the outbox contract, for the alert tests until the real outbox is merged: like the contract says, it
/// joins the scope's unit of work without saving, and records an event only once that unit's <c>SaveChangesAsync</c> has
/// succeeded, so a test sees exactly the notifications that committed with their state change.
/// </summary>
public sealed class RecordingOutbox(IEvalDbContext db, ITeamContext team, NotificationRecorder recorder) : INotificationOutbox
{
    private readonly List<NotificationEvent> _pending = [];
    private bool _subscribed;

    public Task EnqueueAsync(NotificationEvent notification, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(notification);
        if (recorder.FailFor.ContainsKey(notification.TeamId))
        {
            throw new InvalidOperationException("The outbox refused the row (a test's failure).");
        }

        if (!_subscribed)
        {
            ((DbContext)db).SavedChanges += (_, _) =>
            {
                recorder.Commit(_pending);
                _pending.Clear();
            };
            _subscribed = true;
        }

        _pending.Add(notification);
        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<Guid>> UnknownChannelsAsync(IReadOnlyCollection<Guid> channelIds, CancellationToken cancellationToken)
    {
        var known = team.TeamId is { } id && recorder.Channels.TryGetValue(id, out var set) ? set : [];
        return Task.FromResult<IReadOnlyList<Guid>>(channelIds.Where(c => !known.Contains(c)).ToList());
    }

    public static void Register(IServiceCollection services, NotificationRecorder recorder)
    {
        services.AddSingleton(recorder);
        services.AddScoped<INotificationOutbox, RecordingOutbox>();
    }
}
