using EvalPlatform.Core.Common;
using Microsoft.EntityFrameworkCore;

namespace EvalPlatform.Core.Queues;

// Sending chosen traces to a queue (the playground's "Send to queue"), beside the queue's own filter.
public sealed partial class QueueService
{
    /// <summary>Traces one call may send to a queue.</summary>
    public const int MaxTracesPerAdd = 100;

    /// <summary>
    /// Puts <paramref name="traceIds"/> (traces of this team) into the queue as open items, whatever its filter says: an item,
    /// once made, is handed out like any other (<see cref="NextAsync"/>). A trace already in the queue stays as it is.
    /// Needs a member who may review (and is assigned, when the queue has assignees). Returns how many were added now.
    /// </summary>
    public async Task<int> AddTracesAsync(Guid queueId, IReadOnlyCollection<Guid> traceIds, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(traceIds);
        var me = RequireReviewer();
        if (traceIds.Count == 0)
        {
            throw new DomainValidationException("trace_ids", "Name at least one trace.");
        }

        if (traceIds.Count > MaxTracesPerAdd)
        {
            throw new DomainValidationException("trace_ids", $"At most {MaxTracesPerAdd} traces at a time.");
        }

        await using var db = await dbFactory.CreateAsync(ct);
        var queue = await LoadQueueAsync(db, queueId, ct);
        RequireAssigned(queue, me);
        var ids = traceIds.Distinct().ToArray();

        // The team's query filter: another team's trace id is simply not found.
        var found = await db.Traces.AsNoTracking().Where(t => ids.Contains(t.Id)).Select(t => t.Id).ToListAsync(ct);
        if (found.Count != ids.Length)
        {
            throw new NotFoundException($"No trace {ids.First(id => !found.Contains(id))} in this team.");
        }

        var already = await db.QueueItems.AsNoTracking().Where(i => i.QueueId == queueId && ids.Contains(i.TraceId)).Select(i => i.TraceId).ToListAsync(ct);
        var added = 0;
        foreach (var traceId in ids.Except(already))
        {
            // One at a time: a trace handed out meanwhile by NextAsync (the unique queue-and-trace index) keeps its item.
            await using var write = await dbFactory.CreateAsync(ct);
            var now = clock.GetUtcNow();
            write.QueueItems.Add(new QueueItem { Id = Uuid7.Create(now), TeamId = queue.TeamId, QueueId = queueId, TraceId = traceId, EnteredAt = now });
            try
            {
                await write.SaveChangesAsync(ct);
                added++;
            }
            catch (DbUpdateException)
            {
                // Made by a reviewer's hand-out a moment ago; theirs stands.
            }
        }

        return added;
    }
}
