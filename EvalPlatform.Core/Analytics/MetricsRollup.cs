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
/// (b) recomputes, per team and day, the dirty minutes before the live edge from the raw traces, the hours they touch
/// from their minutes and that day from its hours, in one transaction, then drops the marks it read. A bucket that fails keeps
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
        // The job marks and rolls up every team's minutes: it names each team explicitly.
        db.AllowCrossTeamWrites();
        await using var transaction = await db.Database.BeginTransactionAsync(ct);
        var state = await db.MetricRollupStates.SingleOrDefaultAsync(s => s.Id == MetricRollupState.SingletonId, ct);
        if (state is null)
        {
            state = new MetricRollupState();
            db.MetricRollupStates.Add(state);
        }

        var since = ChangesSince(state, now);
        var changed = await raw.ChangedMinutesAsync(db, since, ct);
        await raw.InsertAsync(db, db.MetricDirtyMinutes,
            changed.Select(c => new MetricDirtyMinute { Id = Uuid7.Create(now), TeamId = c.TeamId, Minute = c.Minute, MarkedAt = now }).ToList(), ct);

        // Never backwards: a node whose clock is behind must not move the edge back over rolled minutes' marks.
        var edge = MetricInterval.Minute.Floor(now);
        state.Watermark = state.Watermark is { } w && w > now ? w : now;
        state.RolledThrough = state.RolledThrough is { } r && r > edge ? r : edge;
        if (since is null || since < state.Watermark)
        {
            state.LastRunAt = now;
        }

        await db.SaveChangesAsync(ct);
        await transaction.CommitAsync(ct);
        return state.RolledThrough.Value;
    }

    /// <summary>
    /// Where this run's change scan starts. A run looks back over the overlap before the watermark (a trace stamped
    /// before it but committed after it) at least every <see cref="AnalyticsOptions.RollupOverlapScanSeconds"/>
    /// (<see cref="MetricRollupState.LastRunAt"/> is the last run that did); one sooner reads from the watermark on.
    /// The next look back then also covers the time those quicker runs moved the watermark over, so a commit up to the
    /// overlap late is seen exactly as if every run had looked back. Clocks that disagree (a node behind) look back.
    /// </summary>
    private DateTimeOffset? ChangesSince(MetricRollupState state, DateTimeOffset now)
    {
        if (state.Watermark is not { } watermark)
        {
            return null;
        }

        var overlap = TimeSpan.FromSeconds(options.Value.RollupOverlapSeconds);
        var every = TimeSpan.FromSeconds(options.Value.RollupOverlapScanSeconds);
        if (state.LastRunAt is not { } lookedBack || every <= TimeSpan.Zero)
        {
            return watermark - overlap;
        }

        var sinceLookBack = now - lookedBack;
        if (sinceLookBack >= TimeSpan.Zero && sinceLookBack < every && overlap > TimeSpan.Zero)
        {
            return watermark;
        }

        // Quicker runs since the last look back moved the watermark by less than `every`: reach back over that too.
        return lookedBack == watermark ? watermark - overlap : watermark - overlap - every;
    }

    /// <summary>(b): every dirty minute before the edge, per team and day (the hours and the day they touch).</summary>
    private async Task<RollupRun> RecomputeDirtyAsync(DateTimeOffset rolledThrough, CancellationToken ct)
    {
        List<MetricDirtyMinute> marks;
        await using (var db = await dbFactory.CreateAsync(ct))
        {
            marks = await AcrossTeams.DirtyMinutes(db).AsNoTracking().Where(m => m.Minute < rolledThrough).ToListAsync(ct);
        }

        int done = 0, failed = 0;
        long traces = 0;
        foreach (var day in marks.GroupBy(m => (m.TeamId, Day: MetricInterval.Day.Floor(m.Minute))).OrderBy(g => g.Key.Day))
        {
            ct.ThrowIfCancellationRequested();
            var started = Stopwatch.GetTimestamp();
            var dayMarks = day.ToList();
            var hours = dayMarks.Select(m => MetricInterval.Hour.Floor(m.Minute)).Distinct().Count();
            try
            {
                traces += await RecomputeDayAsync(day.Key.TeamId, day.Key.Day, dayMarks, ct);
                done += hours;
                LogDay(day.Key.TeamId, day.Key.Day, hours, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                failed += hours;
                LogDayFailed(e, day.Key.TeamId, day.Key.Day);
            }
        }

        return new RollupRun(done, failed, traces);
    }

    /// <summary>
    /// One team's day, in one transaction: its dirty minutes from the raw rows (one grouped read), each hour they touch
    /// as the merge of its minutes (those just computed, in memory, and the clean ones stored), and the day as the merge
    /// of its hours. A month's catch-up is 30 of these, not 720 hourly transactions; in steady state a day holds the
    /// last minute or two.
    /// </summary>
    private async Task<long> RecomputeDayAsync(Guid teamId, DateTimeOffset day, List<MetricDirtyMinute> marks, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateAsync(ct);
        db.AllowCrossTeamWrites();
        await using var transaction = await db.Database.BeginTransactionAsync(ct);
        var minutes = marks.Select(m => m.Minute).Distinct().Order().ToList();
        var cells = await raw.MinuteCellsAsync(db, teamId, minutes, ct);

        var stale = TimeRanges.Within<MetricRollup>(r => r.Bucket, TimeRanges.Merge(minutes, MetricInterval.Minute.Length()));
        await AcrossTeams.Rollups(db).Where(r => r.TeamId == teamId && r.Interval == MetricInterval.Minute).Where(stale).ExecuteDeleteAsync(ct);
        // Each touched hour is the merge of its minutes: the ones just computed and the clean ones still stored (read
        // before the new rows go in; none when the whole hour was dirty, as in a catch-up).
        var touched = minutes.Select(m => MetricInterval.Hour.Floor(m)).Distinct().ToList();
        var hourRanges = TimeRanges.Merge(touched, MetricInterval.Hour.Length());
        var clean = await AcrossTeams.Rollups(db).AsNoTracking()
            .Where(r => r.TeamId == teamId && r.Interval == MetricInterval.Minute)
            .Where(TimeRanges.Within<MetricRollup>(r => r.Bucket, hourRanges))
            .ToListAsync(ct);
        await raw.InsertAsync(db, db.MetricRollups, cells.Select(c => MetricRollup.From(teamId, MetricInterval.Minute, c.Bucket, c.Dimensions, c.Aggregate)).ToList(), ct);
        var hourCells = Merge(
            clean.Select(r => (MetricInterval.Hour.Floor(r.Bucket), r.Dimensions, r.ToAggregate()))
                .Concat(cells.Select(c => (MetricInterval.Hour.Floor(c.Bucket), c.Dimensions, c.Aggregate))));
        await AcrossTeams.Rollups(db).Where(r => r.TeamId == teamId && r.Interval == MetricInterval.Hour)
            .Where(TimeRanges.Within<MetricRollup>(r => r.Bucket, hourRanges)).ExecuteDeleteAsync(ct);
        await raw.InsertAsync(db, db.MetricRollups, Rows(teamId, MetricInterval.Hour, hourCells), ct);

        // The day: the hours just built and the untouched ones stored.
        var dayEnd = day + MetricInterval.Day.Length();
        var touchedSet = touched.ToHashSet();
        var untouched = (await AcrossTeams.Rollups(db).AsNoTracking()
                .Where(r => r.TeamId == teamId && r.Interval == MetricInterval.Hour && r.Bucket >= day && r.Bucket < dayEnd)
                .ToListAsync(ct))
            .Where(r => !touchedSet.Contains(r.Bucket));
        var dayCells = Merge(
            untouched.Select(r => (day, r.Dimensions, r.ToAggregate())).Concat(hourCells.Select(c => (day, c.Key.Dimensions, c.Value))));
        await AcrossTeams.Rollups(db).Where(r => r.TeamId == teamId && r.Interval == MetricInterval.Day && r.Bucket == day).ExecuteDeleteAsync(ct);
        await raw.InsertAsync(db, db.MetricRollups, Rows(teamId, MetricInterval.Day, dayCells), ct);

        var ids = marks.Select(m => m.Id).ToList();
        await AcrossTeams.DirtyMinutes(db).Where(m => m.TeamId == teamId && ids.Contains(m.Id)).ExecuteDeleteAsync(ct);
        await transaction.CommitAsync(ct);
        return cells.Sum(c => c.Aggregate.Traces);
    }

    /// <summary>The merge of <paramref name="parts"/> per bucket and dimensions (the parts are left as they are).</summary>
    private static Dictionary<(DateTimeOffset Bucket, RollupDimensions Dimensions), MetricAggregate> Merge(
        IEnumerable<(DateTimeOffset Bucket, RollupDimensions Dimensions, MetricAggregate Aggregate)> parts)
    {
        var merged = new Dictionary<(DateTimeOffset Bucket, RollupDimensions Dimensions), MetricAggregate>();
        foreach (var (bucket, dimensions, aggregate) in parts)
        {
            if (!merged.TryGetValue((bucket, dimensions), out var into))
            {
                merged[(bucket, dimensions)] = into = new MetricAggregate();
            }

            into.Merge(aggregate);
        }

        return merged;
    }

    private static List<MetricRollup> Rows(
        Guid teamId, MetricInterval interval, Dictionary<(DateTimeOffset Bucket, RollupDimensions Dimensions), MetricAggregate> cells) =>
        cells.Select(p => MetricRollup.From(teamId, interval, p.Key.Bucket, p.Key.Dimensions, p.Value)).ToList();

    /// <summary>
    /// The rollup's reads across teams: the one place that opts out of the team filter. Every query through these
    /// names its team (or, for the dirty marks, reads them all to recompute each team apart).
    /// </summary>
    private static class AcrossTeams
    {
        public static IQueryable<MetricRollup> Rollups(IEvalDbContext db) => db.MetricRollups.IgnoreQueryFilters();

        public static IQueryable<MetricDirtyMinute> DirtyMinutes(IEvalDbContext db) => db.MetricDirtyMinutes.IgnoreQueryFilters();
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Metrics rollup: team {TeamId} day {Day:O} ({Hours} hours) recomputed in {Milliseconds:0} ms")]
    private partial void LogDay(Guid teamId, DateTimeOffset day, int hours, double milliseconds);

    [LoggerMessage(Level = LogLevel.Error, Message = "Metrics rollup: team {TeamId} day {Day:O} failed; its minutes stay dirty for the next run")]
    private partial void LogDayFailed(Exception e, Guid teamId, DateTimeOffset day);
}
