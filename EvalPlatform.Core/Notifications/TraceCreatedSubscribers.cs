using System.Collections.Concurrent;
using EvalPlatform.Core.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace EvalPlatform.Core.Notifications;

/// <summary>
/// Per node, for the ingestion hot path: does a team have a channel subscribed to <c>trace.created</c>? Answered from
/// memory for <see cref="Lifetime"/> (a change on this node drops the entry at once; on another node it shows within
/// the lifetime), so a team without such a channel pays one dictionary lookup per group commit.
/// </summary>
public sealed class TraceCreatedSubscribers(IServiceScopeFactory scopes, TimeProvider clock)
{
    public static readonly TimeSpan Lifetime = TimeSpan.FromSeconds(30);

    private readonly ConcurrentDictionary<Guid, (bool Any, DateTimeOffset Until)> _known = new();

    public async ValueTask<bool> AnyAsync(Guid teamId, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        if (_known.TryGetValue(teamId, out var entry) && entry.Until > now)
        {
            return entry.Any;
        }

        await using var scope = scopes.CreateAsyncScope();
        await using var db = await scope.ServiceProvider.GetRequiredService<IEvalDbContextFactory>().CreateAsync(ct);
        // Across teams on purpose: the ingestion writer commits several teams' traces in one group.
        var channels = await db.NotificationChannels.IgnoreQueryFilters().AsNoTracking()
            .Where(c => c.TeamId == teamId).Select(c => c.EventTypes).ToListAsync(ct);
        var any = channels.Any(types => NotificationChannel.Split(types).Contains(NotificationEventTypes.TraceCreated));
        _known[teamId] = (any, now + Lifetime);
        return any;
    }

    public void Invalidate(Guid teamId) => _known.TryRemove(teamId, out _);
}
