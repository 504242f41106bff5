using EvalPlatform.Core.Data;
using EvalPlatform.Core.Ingestion;
using EvalPlatform.Core.Notifications;
using EvalPlatform.Core.Traces;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;

namespace EvalPlatform.Data.Ingestion;

/// <summary>
/// Group commit for both providers: inserts every new trace of every accepted request in one
/// transaction. It first assumes every external id is new (the unique index checks); when one is
/// not, it decides per trace what is new, a retry, or a conflict (one query per team for the
/// external ids), check and insert in one transaction. A conflict refuses that trace only. When the
/// database refuses a value of one trace (<see cref="IStoreErrors"/>), the group is written again one
/// request at a time, and a request that still fails one trace at a time, so only that trace is
/// refused (ADR 3, ADR 13). How rows are inserted is the provider's business (<see cref="InsertAsync"/>).
/// This is a cross-team writer: it filters by explicit team ids.
/// </summary>
internal abstract class TraceStore(
    IDbContextFactory<EvalDbContext> factory, IStoreErrors errors, ILogger logger, TraceCreatedSubscribers subscribers, NotificationOutbox outbox) : ITraceStore
{
    public async Task<IReadOnlyList<StoreResult>> StoreAsync(IReadOnlyList<StoreRequest> requests, CancellationToken ct = default)
    {
        // Almost every trace is new: insert without looking up the group's external ids first. The
        // unique index still decides; if one of them is already stored (a client's retry, different
        // content under a known id, or another writer's concurrent insert), nothing was committed and
        // the group is written again the careful way, which answers retries and conflicts.
        try
        {
            return await StoreTogetherAsync(requests, lookUp: false, ct);
        }
        catch (Exception e) when (IsUniqueViolation(e))
        {
        }
        catch (Exception e) when (IsDataError(e))
        {
            return await StoreApartAsync(requests, e, ct);
        }

        try
        {
            return await StoreTogetherAsync(requests, lookUp: true, ct);
        }
        catch (Exception e) when (IsDataError(e))
        {
            return await StoreApartAsync(requests, e, ct);
        }
        catch (Exception e) when (IsUniqueViolation(e))
        {
            // Another writer (a second group on this node, or another node) committed one of these
            // external ids between our check and our commit. Nothing of this group was committed:
            // redo each request on its own, so its check now sees that row (a retry answers with
            // the stored id, different content is a conflict) and only the clashing request is affected.
            logger.LogInformation("Group commit of {Count} requests hit a concurrent insert; retrying them one by one", requests.Count);
        }

        var results = new List<StoreResult>(requests.Count);
        foreach (var request in requests)
        {
            results.Add((await StoreTogetherAsync([request], lookUp: true, ct))[0]);
        }

        return results;
    }

    /// <summary>Inserts the traces and their spans inside the open transaction.</summary>
    protected abstract Task InsertAsync(EvalDbContext db, IReadOnlyList<Trace> traces, CancellationToken ct);

    /// <summary>The insert clashed with a stored external id (the unique index refused it).</summary>
    protected abstract bool IsUniqueViolation(Exception e);

    private bool IsDataError(Exception e) => errors.IsDataError(e);

    private string DescribeDataError(Exception e) => errors.Describe(e);

    /// <summary>
    /// After a data error in the group: each request on its own, and a request that still fails, each of its
    /// traces on its own, so that the failing trace is refused with the database's reason and nothing else is.
    /// </summary>
    private async Task<IReadOnlyList<StoreResult>> StoreApartAsync(IReadOnlyList<StoreRequest> requests, Exception first, CancellationToken ct)
    {
        logger.LogWarning("Group commit of {Count} requests failed on a value ({Reason}); storing them one by one", requests.Count, DescribeDataError(first));
        var results = new List<StoreResult>(requests.Count);
        foreach (var request in requests)
        {
            try
            {
                results.Add((await StoreTogetherAsync([request], lookUp: true, ct))[0]);
                continue;
            }
            catch (Exception e) when (IsDataError(e))
            {
            }

            var stored = new List<StoredTrace>();
            var refused = new List<RefusedTrace>();
            foreach (var trace in request.Traces)
            {
                try
                {
                    var alone = (await StoreTogetherAsync([request with { Traces = [trace] }], lookUp: true, ct))[0];
                    stored.AddRange(alone.Traces);
                    refused.AddRange(alone.Refused);
                }
                catch (Exception e) when (IsDataError(e))
                {
                    refused.Add(new RefusedTrace(trace.Index, trace.Trace.ExternalId, IsConflict: false,
                        $"The database could not store this trace: {DescribeDataError(e)}"));
                }
            }

            results.Add(new StoreResult(stored, refused));
        }

        return results;
    }

    private async Task<IReadOnlyList<StoreResult>> StoreTogetherAsync(IReadOnlyList<StoreRequest> requests, bool lookUp, CancellationToken ct)
    {
        // One connection and one transaction for the idempotency check and the write.
        await using var db = factory.CreateDbContext();
        // One group commit carries several teams' requests, each with its team id from its own key.
        db.AllowCrossTeamWrites();
        await using var transaction = await db.Database.BeginTransactionAsync(ct);
        var known = lookUp ? await LoadKnownAsync(db, requests, ct) : [];
        var results = new List<StoreResult>(requests.Count);
        var toInsert = new List<Trace>();
        foreach (var request in requests)
        {
            var stored = new List<StoredTrace>(request.Traces.Count);
            var conflicts = new List<RefusedTrace>();
            var fresh = new List<Trace>();
            foreach (var parsed in request.Traces)
            {
                var trace = parsed.Trace;
                if (trace.ExternalId is not null && known.TryGetValue((request.TeamId, trace.ExternalId), out var existing))
                {
                    if (existing.Hash.AsSpan().SequenceEqual(trace.ContentHash))
                    {
                        stored.Add(new StoredTrace(parsed.Index, existing.Id, trace.ExternalId, Created: false));
                    }
                    else
                    {
                        // Only this trace: the request's other traces are stored all the same. The stored trace's id is not
                        // named: an ingest-only key must not learn anything of stored content (the id opens it to a reader).
                        conflicts.Add(new RefusedTrace(parsed.Index, trace.ExternalId, IsConflict: true,
                            $"A different trace with external_id '{trace.ExternalId}' is already stored."));
                    }

                    continue;
                }

                stored.Add(new StoredTrace(parsed.Index, trace.Id, trace.ExternalId, Created: true));
                fresh.Add(trace);
            }

            foreach (var trace in fresh.Where(t => t.ExternalId is not null))
            {
                // A later request in the same group with the same id is a retry of this one.
                known[(request.TeamId, trace.ExternalId!)] = (trace.Id, trace.ContentHash);
            }

            toInsert.AddRange(fresh);
            results.Add(new StoreResult(stored, conflicts));
        }

        if (toInsert.Count > 0)
        {
            await InsertAsync(db, toInsert, ct);
            await AnnounceCreatedAsync(db, toInsert, ct);
        }

        await transaction.CommitAsync(ct);

        return results;
    }

    /// <summary>
    /// <c>trace.created</c> outbox rows, in the group's transaction, for the teams that have a channel for it, filtered per
    /// channel (<see cref="NotificationOutbox.EnqueueTraceCreatedAsync"/>). A team without one costs a lookup in a per-node
    /// cache per group (<see cref="TraceCreatedSubscribers"/>), nothing more. Each team apart: a failure while announcing one
    /// team's traces (a stored filter that does not read, any exception) drops that team's rows, is logged, and neither
    /// fails the group nor touches another team's traces or events (ADR 26).
    /// </summary>
    private async Task AnnounceCreatedAsync(EvalDbContext db, List<Trace> inserted, CancellationToken ct)
    {
        var announced = false;
        foreach (var team in inserted.GroupBy(t => t.TeamId))
        {
            try
            {
                if (await subscribers.AnyAsync(team.Key, ct))
                {
                    await outbox.EnqueueTraceCreatedAsync(db, team.Key, team.ToList(), ct);
                    announced = true;
                }
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                foreach (var entry in db.ChangeTracker.Entries<NotificationDelivery>().Where(d => d.State == EntityState.Added && d.Entity.TeamId == team.Key).ToList())
                {
                    entry.State = EntityState.Detached;
                }

                logger.LogError(e, "trace.created for {Count} traces of team {TeamId} could not be enqueued; the traces are stored, these events are dropped", team.Count(), team.Key);
            }
        }

        if (announced)
        {
            await db.SaveChangesAsync(ct);
        }
    }

    private static async Task<Dictionary<(Guid Team, string ExternalId), (Guid Id, byte[] Hash)>> LoadKnownAsync(
        EvalDbContext db, IReadOnlyList<StoreRequest> requests, CancellationToken ct)
    {
        var known = new Dictionary<(Guid, string), (Guid, byte[])>();
        foreach (var team in requests.GroupBy(r => r.TeamId))
        {
            var teamId = team.Key;
            var ids = team.SelectMany(r => r.Traces).Select(p => p.Trace.ExternalId).OfType<string>().Distinct().ToList();
            if (ids.Count == 0)
            {
                continue;
            }

            var rows = await db.Traces.IgnoreQueryFilters().AsNoTracking()
                .Where(t => t.TeamId == teamId && ids.Contains(t.ExternalId!))
                .Select(t => new { t.Id, t.ExternalId, t.ContentHash })
                .ToListAsync(ct);
            foreach (var row in rows)
            {
                known[(teamId, row.ExternalId!)] = (row.Id, row.ContentHash);
            }
        }

        return known;
    }
}

/// <summary>SQLite: plain EF inserts in the transaction (one writer at a time is SQLite's nature anyway).</summary>
internal sealed class EfTraceStore(
    IDbContextFactory<EvalDbContext> factory, IStoreErrors errors, ILogger<EfTraceStore> logger, TraceCreatedSubscribers subscribers, NotificationOutbox outbox)
    : TraceStore(factory, errors, logger, subscribers, outbox)
{
    protected override async Task InsertAsync(EvalDbContext db, IReadOnlyList<Trace> traces, CancellationToken ct)
    {
        db.ChangeTracker.AutoDetectChangesEnabled = false;
        db.Traces.AddRange(traces);
        db.Spans.AddRange(traces.SelectMany(t => t.Spans));
        await db.SaveChangesAsync(ct);
    }

    // SaveChanges wraps the provider's constraint error; the only constraint these inserts can break is the external id's.
    protected override bool IsUniqueViolation(Exception e) => e is DbUpdateException;
}
