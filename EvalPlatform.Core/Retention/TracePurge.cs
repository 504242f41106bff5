using System.ComponentModel.DataAnnotations;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.LangSmith.Connector;
using EvalPlatform.Core.Playground;
using EvalPlatform.Core.Providers;
using EvalPlatform.Core.Queues;
using EvalPlatform.Core.Reviews;
using EvalPlatform.Core.Scores;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Core.Traces;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EvalPlatform.Core.Retention;

/// <summary>Settings of the nightly trace retention job (section <c>Retention</c>).</summary>
public sealed class RetentionOptions
{
    public const string SectionName = "Retention";

    /// <summary>
    /// Traces deleted per transaction (with everything keyed by them). Small enough that each transaction is short and
    /// holds few row locks, so ingestion and reviews carry on between batches.
    /// </summary>
    [Range(1, 100_000)]
    public int TraceBatchSize { get; set; } = 1_000;
}

/// <summary>What one run of the trace retention job did: teams with a retention setting, those that failed, traces deleted.</summary>
public sealed record TracePurgeRun(int Teams, int Failed, int Traces);

/// <summary>
/// The nightly trace retention job's one call (ADR 37): for each team with <see cref="Teams.Team.TraceRetentionDays"/>, deletes
/// its traces that arrived more than that many days ago (by <see cref="Trace.CreatedAt"/>, through the sort key the trace
/// list pages on) and everything keyed by their ids. Spans and verdicts have no foreign key to the trace (ADR 11), others
/// cascade: the dependants are listed here, in <see cref="Dependants"/>, each deleted explicitly, and a test walks the EF
/// model so a new table with a trace id cannot be missed.
/// Each team runs in a scope of its own that acts as that team (<see cref="TeamContext.SetJob"/>), so every statement is
/// bound to it by the query filter; one team's failure is logged and the others go on. Metric rollups stay: they are
/// counts and sums, not traces, and the dashboards over past months keep their figures.
/// </summary>
public sealed class TracePurge(IServiceScopeFactory scopes, IOptions<RetentionOptions> options, TimeProvider clock, ILogger<TracePurge> logger)
{
    public const string JobName = "trace-retention";

    /// <summary>
    /// The entities that hang off a trace and go with it (queue claims through their queue item). A provider call is not
    /// deleted: it is the connection's usage and its budget's spend; it only loses its link to the trace.
    /// </summary>
    public static IReadOnlyList<Type> Dependants { get; } =
        [typeof(Span), typeof(Score), typeof(ReviewChange), typeof(QueueItem), typeof(QueueClaim), typeof(QueueVerdict), typeof(ProviderCall),
            typeof(PlaygroundBatchResult), typeof(LangSmithFeedbackLink)];

    public async Task<TracePurgeRun> PurgeAsync(CancellationToken ct = default)
    {
        List<(Guid Id, int Days)> teams;
        await using (var scope = scopes.CreateAsyncScope())
        {
            // Teams are not team-owned: the one read across teams here, the setting alone.
            await using var db = await scope.ServiceProvider.GetRequiredService<IEvalDbContextFactory>().CreateAsync(ct);
            teams = (await db.Teams.AsNoTracking().Where(t => t.TraceRetentionDays != null).OrderBy(t => t.Id)
                    .Select(t => new { t.Id, Days = t.TraceRetentionDays!.Value }).ToListAsync(ct))
                .Select(t => (t.Id, t.Days)).ToList();
        }

        var now = clock.GetUtcNow();
        int failed = 0, deleted = 0;
        foreach (var (teamId, days) in teams)
        {
            ct.ThrowIfCancellationRequested();
            await using var scope = scopes.CreateAsyncScope();
            scope.ServiceProvider.GetRequiredService<TeamContext>().SetJob(teamId, JobName);
            try
            {
                var count = await PurgeTeamAsync(scope.ServiceProvider.GetRequiredService<IEvalDbContextFactory>(), now.AddDays(-days), ct);
                deleted += count;
                if (count > 0)
                {
                    logger.LogInformation("Trace retention: deleted {Count} traces of team {TeamId} older than {Days} days", count, teamId, days);
                }
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                failed++;
                logger.LogError(e, "Trace retention of team {TeamId} failed; what was deleted in earlier batches stays deleted, the rest waits for the next run", teamId);
            }
        }

        return new TracePurgeRun(teams.Count, failed, deleted);
    }

    /// <summary>The current team's traces that arrived before <paramref name="before"/>, oldest first, one batch per transaction.</summary>
    private async Task<int> PurgeTeamAsync(IEvalDbContextFactory dbFactory, DateTimeOffset before, CancellationToken ct)
    {
        var batch = options.Value.TraceBatchSize;
        // The sort key starts with the arrival time's ticks: every trace that arrived before the cut sorts before this key,
        // so the (TeamId, SortKey) index finds them.
        var cut = Trace.MakeSortKey(before, Guid.Empty);
        var total = 0;
        await using var db = await dbFactory.CreateAsync(ct);
        while (true)
        {
            await using var transaction = await db.Database.BeginTransactionAsync(ct);
#pragma warning disable CA1309 // EF translates only the two-argument form; sort keys are ASCII.
            var ids = await db.Traces.Where(t => string.Compare(t.SortKey, cut) < 0)
#pragma warning restore CA1309
                .OrderBy(t => t.SortKey).Select(t => t.Id).Take(batch).ToListAsync(ct);
            if (ids.Count == 0)
            {
                return total;
            }

            await db.QueueClaims.Where(c => db.QueueItems.Any(i => i.Id == c.QueueItemId && ids.Contains(i.TraceId))).ExecuteDeleteAsync(ct);
            await db.QueueVerdicts.Where(v => ids.Contains(v.TraceId)).ExecuteDeleteAsync(ct);
            await db.QueueItems.Where(i => ids.Contains(i.TraceId)).ExecuteDeleteAsync(ct);
            await db.ReviewChanges.Where(c => ids.Contains(c.TraceId)).ExecuteDeleteAsync(ct);
            await db.Scores.Where(s => ids.Contains(s.TraceId)).ExecuteDeleteAsync(ct);
            await db.Spans.Where(s => ids.Contains(s.TraceId)).ExecuteDeleteAsync(ct);
            await db.PlaygroundBatchResults.Where(r => ids.Contains(r.TraceId)).ExecuteDeleteAsync(ct);
            await db.LangSmithFeedbackLinks.Where(l => ids.Contains(l.TraceId)).ExecuteDeleteAsync(ct);
            await db.ProviderCalls.Where(c => c.TraceId != null && ids.Contains(c.TraceId.Value))
                .ExecuteUpdateAsync(s => s.SetProperty(c => c.TraceId, (Guid?)null), ct);
            total += await db.Traces.Where(t => ids.Contains(t.Id)).ExecuteDeleteAsync(ct);
            await transaction.CommitAsync(ct);
            if (ids.Count < batch)
            {
                return total;
            }
        }
    }
}
