using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EvalPlatform.Core.Ingestion;

/// <summary>
/// The node's <see cref="IIngestionIssueLog"/>: <see cref="Record"/> counts into an
/// <see cref="IngestionIssueBuffer"/>; <see cref="FlushAsync"/> (the background writer about once a second,
/// the API and the page before they read) upserts the counts; <see cref="PurgeAsync"/> applies the retention.
/// A failed flush is logged and its counts go back into the (bounded) buffer for the next try.
/// See docs/decisions/0015-ingestion-issue-log.md.
/// </summary>
#pragma warning disable CA1001 // _flushing is never disposed on purpose (see there).
public sealed class IngestionIssueLog(IServiceScopeFactory scopes, TimeProvider time, ILogger<IngestionIssueLog> logger) : IIngestionIssueLog
#pragma warning restore CA1001
{
    // Never disposed (it holds no wait handle): the last flush runs in the host's StopAsync, which a test host may call
    // again after the container has disposed its singletons; a disposed semaphore made that flush throw.
    private readonly SemaphoreSlim _flushing = new(1, 1);

    internal IngestionIssueBuffer Buffer { get; } = new();

    public void Record(Guid teamId, IngestionDoor door, IReadOnlyCollection<IngestionIssueReport> issues)
    {
        try
        {
            if (issues is { Count: > 0 })
            {
                Buffer.Record(teamId, door, issues, time.GetUtcNow());
            }
        }
#pragma warning disable CA1031 // The contract: ingestion never fails because its issue log did.
        catch (Exception)
#pragma warning restore CA1031
        {
            Buffer.CountDropped(issues?.Count ?? 0);
        }
    }

    public async Task FlushAsync(CancellationToken ct = default) => await TryFlushAsync(ct);

    /// <summary>Writes what is buffered; false (logged, counts kept for the next try) when the database refused.</summary>
    public async Task<bool> TryFlushAsync(CancellationToken ct = default)
    {
        await _flushing.WaitAsync(ct);
        try
        {
            var dropped = Buffer.TakeDropped();
            if (dropped > 0)
            {
                logger.LogWarning(
                    "The ingestion issue log dropped {Dropped} issues: more than {Max} distinct issues were waiting to be written. Is the database slow or unreachable?",
                    dropped, Buffer.MaxEntries);
            }

            var taken = Buffer.TakeAll();
            if (taken.Count == 0)
            {
                return true;
            }

            try
            {
                await using var scope = scopes.CreateAsyncScope();
                var store = scope.ServiceProvider.GetRequiredService<IIngestionIssueStore>();
                var rows = new List<BufferedIssue>(taken.Count);
                foreach (var teamHour in taken.GroupBy(i => (i.TeamId, i.Hour)))
                {
                    rows.AddRange(await CapAsync(store, teamHour.Key.TeamId, teamHour.Key.Hour, teamHour.ToList(), ct));
                }

                await store.UpsertAsync(rows, ct);
                return true;
            }
#pragma warning disable CA1031 // Whatever the database says, the counts are kept and the next flush tries again.
            catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
#pragma warning restore CA1031
            {
                Buffer.Restore(taken);
                logger.LogWarning(e, "Could not write {Count} ingestion issues; they are kept and written at the next flush", taken.Count);
                return false;
            }
            catch (OperationCanceledException)
            {
                Buffer.Restore(taken);
                throw;
            }
        }
        finally
        {
            _flushing.Release();
        }
    }

    /// <summary>Deletes rows last seen more than <see cref="IngestionIssueLimits.Retention"/> ago (every team's); returns how many.</summary>
    public async Task<int> PurgeAsync(CancellationToken ct = default)
    {
        await using var scope = scopes.CreateAsyncScope();
        var store = scope.ServiceProvider.GetRequiredService<IIngestionIssueStore>();
        return await store.DeleteLastSeenBeforeAsync(time.GetUtcNow() - IngestionIssueLimits.Retention, ct);
    }

    /// <summary>Applies <see cref="IngestionIssueLimits.MaxRowsPerTeamHour"/> against the rows the team's hour already has.</summary>
    private static async Task<IReadOnlyList<BufferedIssue>> CapAsync(
        IIngestionIssueStore store, Guid teamId, DateTimeOffset hour, List<BufferedIssue> entries, CancellationToken ct)
    {
        var rows = await store.CountRowsAsync(teamId, hour, ct);
        if (rows + entries.Count <= IngestionIssueLimits.MaxRowsPerTeamHour)
        {
            return entries;
        }

        // Near the cap: find which of these (and of what they fold into) already have rows; only new rows count against it.
        var candidates = entries.SelectMany(e => new[] { e.GroupKey, e.Folded().GroupKey, e.Folded().Folded().GroupKey }).ToHashSet();
        var existing = await store.FindGroupKeysAsync(teamId, hour, candidates, ct);
        return Fold(entries, rows, existing, IngestionIssueLimits.MaxRowsPerTeamHour);
    }

    /// <summary>
    /// Decides which entries get rows of their own when the team's hour has <paramref name="existingRows"/> rows,
    /// <paramref name="existingKeys"/> among them: known rows always take their counts; new ones while under
    /// <paramref name="cap"/>; the rest fold (<see cref="BufferedIssue.Folded"/>). The most frequent keep their identity first.
    /// </summary>
    public static IReadOnlyList<BufferedIssue> Fold(IReadOnlyList<BufferedIssue> entries, int existingRows, IReadOnlySet<string> existingKeys, int cap)
    {
        var result = new Dictionary<string, BufferedIssue>(StringComparer.Ordinal);
        var rows = existingRows;
        foreach (var entry in entries.OrderByDescending(e => existingKeys.Contains(e.GroupKey)).ThenByDescending(e => e.Count))
        {
            var issue = entry.Copy();
            while (true)
            {
                if (result.TryGetValue(issue.GroupKey, out var merged))
                {
                    merged.Absorb(issue);
                    break;
                }

                if (existingKeys.Contains(issue.GroupKey) || rows < cap || issue.IsCatchAll)
                {
                    if (!existingKeys.Contains(issue.GroupKey))
                    {
                        rows++;
                    }

                    result[issue.GroupKey] = issue;
                    break;
                }

                issue = issue.Folded();
            }
        }

        return result.Values.ToList();
    }
}
