using System.Diagnostics;
using EvalPlatform.Core.Common;
using EvalPlatform.Core.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EvalPlatform.Core.Analytics;

/// <summary>
/// Keeps the rollups current (ADR 17). Each run (a) marks dirty the (team, minute) of every trace changed since the
/// watermark less an overlap, and moves the watermark and the live edge ("rolled through") in the same transaction;
/// (b) recomputes, per team and hour, the dirty minutes before the live edge from the raw traces, that hour from its
/// minutes and that day from its hours, in one transaction, then drops the marks it read. A bucket that fails keeps
/// its marks for the next run and never holds up another. Every row is recomputed, never added to: idempotent.
/// </summary>
public sealed partial class MetricsRollup(
    IEvalDbContextFactory dbFactory, IRawMetrics raw, TimeProvider clock, IOptions<AnalyticsOptions> options, ILogger<MetricsRollup> logger)
    : IMetricsRollup
{
    // One run at a time per node (the job and an on-demand run); across nodes the clustered job runs once.
    // Two overlapping runs would still not count twice: the later insert of a bucket fails and the bucket stays dirty.
    private static readonly SemaphoreSlim OneRun = new(1, 1);

    public async Task<RollupRun> RollUpAsync(CancellationToken ct = default)
    {
        await OneRun.WaitAsync(ct);
        try
        {
            var rolledThrough = await MarkChangesAsync(ct);
            return await RecomputeDirtyAsync(rolledThrough, ct);
        }
        finally
        {
            OneRun.Release();
        }
    }

    /// <summary>(a): the changed minutes marked dirty, the watermark and the live edge moved, in one transaction.</summary>
    private async Task<DateTimeOffset> MarkChangesAsync(CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        await using var db = await dbFactory.CreateAsync(ct);
        await using var transaction = await db.Database.BeginTransactionAsync(ct);
        var state = await db.MetricRollupStates.SingleOrDefaultAsync(s => s.Id == MetricRollupState.SingletonId, ct);
        if (state is null)
        {
            state = new MetricRollupState();
            db.MetricRollupStates.Add(state);
        }

        var since = state.Watermark - TimeSpan.FromSeconds(options.Value.RollupOverlapSeconds);
        var changed = await raw.ChangedMinutesAsync(db, since, ct);
        foreach (var (teamId, minute) in changed)
        {
            db.MetricDirtyMinutes.Add(new MetricDirtyMinute { Id = Uuid7.Create(now), TeamId = teamId, Minute = minute, MarkedAt = now });
        }

        // Never backwards: a node whose clock is behind must not move the edge back over rolled minutes' marks.
        var edge = MetricInterval.Minute.Floor(now);
        state.Watermark = state.Watermark is { } w && w > now ? w : now;
        state.RolledThrough = state.RolledThrough is { } r && r > edge ? r : edge;
        state.LastRunAt = now;
        await db.SaveChangesAsync(ct);
        await transaction.CommitAsync(ct);
        return state.RolledThrough.Value;
    }

    /// <summary>(b): every dirty minute before the edge, per team and hour.</summary>
    private async Task<RollupRun> RecomputeDirtyAsync(DateTimeOffset rolledThrough, CancellationToken ct)
    {
        List<MetricDirtyMinute> marks;
        await using (var db = await dbFactory.CreateAsync(ct))
        {
            marks = await AcrossTeams.DirtyMinutes(db).AsNoTracking().Where(m => m.Minute < rolledThrough).ToListAsync(ct);
        }

        int done = 0, failed = 0;
        long traces = 0;
        foreach (var hour in marks.GroupBy(m => (m.TeamId, Hour: MetricInterval.Hour.Floor(m.Minute))).OrderBy(g => g.Key.Hour))
        {
            ct.ThrowIfCancellationRequested();
            var started = Stopwatch.GetTimestamp();
            try
            {
                traces += await RecomputeHourAsync(hour.Key.TeamId, hour.Key.Hour, hour.ToList(), ct);
                done++;
                LogHour(hour.Key.TeamId, hour.Key.Hour, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                failed++;
                LogHourFailed(e, hour.Key.TeamId, hour.Key.Hour);
            }
        }

        return new RollupRun(done, failed, traces);
    }

    /// <summary>One team's hour: its dirty minutes from the raw rows, the hour from its minutes, the day from its hours; one transaction.</summary>
    private async Task<long> RecomputeHourAsync(Guid teamId, DateTimeOffset hour, List<MetricDirtyMinute> marks, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateAsync(ct);
        await using var transaction = await db.Database.BeginTransactionAsync(ct);
        var minutes = marks.Select(m => m.Minute).Distinct().Order().ToList();
        var cells = await raw.MinuteCellsAsync(db, teamId, minutes, ct);

        var stale = TimeRanges.Within<MetricRollup>(r => r.Bucket, TimeRanges.Merge(minutes, MetricInterval.Minute.Length()));
        await AcrossTeams.Rollups(db).Where(r => r.TeamId == teamId && r.Interval == MetricInterval.Minute).Where(stale).ExecuteDeleteAsync(ct);
        db.MetricRollups.AddRange(cells.Select(c => MetricRollup.From(teamId, MetricInterval.Minute, c.Bucket, c.Dimensions, c.Aggregate)));
        await db.SaveChangesAsync(ct);

        await RebuildAsync(db, teamId, MetricInterval.Hour, hour, MetricInterval.Minute, ct);
        await RebuildAsync(db, teamId, MetricInterval.Day, MetricInterval.Day.Floor(hour), MetricInterval.Hour, ct);

        var ids = marks.Select(m => m.Id).ToList();
        await AcrossTeams.DirtyMinutes(db).Where(m => m.TeamId == teamId && ids.Contains(m.Id)).ExecuteDeleteAsync(ct);
        await transaction.CommitAsync(ct);
        return cells.Sum(c => c.Aggregate.Traces);
    }

    /// <summary>The rows of one bucket of <paramref name="interval"/> as the merge of its rows of the finer <paramref name="from"/>.</summary>
    private static async Task RebuildAsync(IEvalDbContext db, Guid teamId, MetricInterval interval, DateTimeOffset bucket, MetricInterval from, CancellationToken ct)
    {
        var end = bucket + interval.Length();
        var parts = await AcrossTeams.Rollups(db).AsNoTracking()
            .Where(r => r.TeamId == teamId && r.Interval == from && r.Bucket >= bucket && r.Bucket < end)
            .ToListAsync(ct);
        await AcrossTeams.Rollups(db).Where(r => r.TeamId == teamId && r.Interval == interval && r.Bucket == bucket).ExecuteDeleteAsync(ct);
        db.MetricRollups.AddRange(parts
            .GroupBy(r => r.Dimensions)
            .Select(g => MetricRollup.From(teamId, interval, bucket, g.Key, AnalyticsService.Merge(g.Select(r => r.ToAggregate())))));
        await db.SaveChangesAsync(ct);
    }

    /// <summary>
    /// The rollup's reads across teams: the one place that opts out of the team filter. Every query through these
    /// names its team (or, for the dirty marks, reads them all to recompute each team apart).
    /// </summary>
    private static class AcrossTeams
    {
        public static IQueryable<MetricRollup> Rollups(IEvalDbContext db) => db.MetricRollups.IgnoreQueryFilters();

        public static IQueryable<MetricDirtyMinute> DirtyMinutes(IEvalDbContext db) => db.MetricDirtyMinutes.IgnoreQueryFilters();
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Metrics rollup: team {TeamId} hour {Hour:O} recomputed in {Milliseconds:0} ms")]
    private partial void LogHour(Guid teamId, DateTimeOffset hour, double milliseconds);

    [LoggerMessage(Level = LogLevel.Error, Message = "Metrics rollup: team {TeamId} hour {Hour:O} failed; it stays dirty for the next run")]
    private partial void LogHourFailed(Exception e, Guid teamId, DateTimeOffset hour);
}
