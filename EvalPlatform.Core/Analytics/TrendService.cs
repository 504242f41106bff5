using EvalPlatform.Core.Common;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using Microsoft.Extensions.Caching.Hybrid;

namespace EvalPlatform.Core.Analytics;

/// <summary>
/// "What changed" for the current team: trend findings over a range, read only through <see cref="AnalyticsService"/>
/// (the same cells as the dashboard, never SQL of its own) and worked out by <see cref="TrendAnalysis"/>. The default
/// report (the last 7 days, no filters) is kept in the app's <see cref="HybridCache"/> per team, refreshed by the hourly
/// trends job and computed on a miss; any other filter is computed on demand.
/// </summary>
public sealed class TrendService(AnalyticsService analytics, ITeamContext team, HybridCache cache, TimeProvider clock)
{
    /// <summary>The range of the default report: the last week.</summary>
    public static readonly TimeSpan DefaultRange = TimeSpan.FromDays(7);

    /// <summary>
    /// How long a cached default report is served: two runs of the hourly job, so one failed run still leaves a
    /// report, and a report never outlives that.
    /// </summary>
    public static readonly TimeSpan CacheLifetime = TimeSpan.FromHours(2);

    private static readonly HybridCacheEntryOptions CacheOptions = new() { Expiration = CacheLifetime, LocalCacheExpiration = CacheLifetime };

    /// <summary>The cache key of a team's default report.</summary>
    public static string CacheKey(Guid teamId) => $"trends:default:{teamId:N}";

    /// <summary>The default report's filter as of now: the last 7 days to the minute, no filters.</summary>
    public AnalyticsFilter DefaultFilter()
    {
        var to = MetricInterval.Minute.Floor(clock.GetUtcNow());
        return new AnalyticsFilter(to - DefaultRange, to);
    }

    /// <summary>The default report: the cached one (at most <see cref="CacheLifetime"/> old), computed and kept on a miss.</summary>
    public async Task<TrendReport> GetDefaultAsync(CancellationToken ct = default)
    {
        var teamId = RequireView();
        return await cache.GetOrCreateAsync(
            CacheKey(teamId), this, static async (self, token) => await self.FindAsync(self.DefaultFilter(), token), CacheOptions, cancellationToken: ct);
    }

    /// <summary>Computes the default report now and replaces the cached one: the hourly job's work for one team.</summary>
    public async Task<TrendReport> RefreshDefaultAsync(CancellationToken ct = default)
    {
        var teamId = RequireView();
        var report = await FindAsync(DefaultFilter(), ct);
        await cache.SetAsync(CacheKey(teamId), report, CacheOptions, cancellationToken: ct);
        return report;
    }

    /// <summary>The findings for <paramref name="filter"/>, computed now. The range is taken to the minute, as the metrics are.</summary>
    public async Task<TrendReport> FindAsync(AnalyticsFilter filter, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(filter);
        RequireView();
        filter = filter with { From = MetricInterval.Minute.Floor(filter.From), To = MetricInterval.Minute.Floor(filter.To) };
        if (filter.To <= filter.From)
        {
            throw new DomainValidationException("to", "'to' must be at least a minute after 'from'.");
        }

        var interval = TrendAnalysis.IntervalFor(filter.Length);
        // One read: the cells by model, and "all traces" as their merge per bucket (merging is adding, so this equals
        // the ungrouped read exactly) instead of reading the same rollup rows a second time.
        var byModel = await analytics.CellsAsync(new AnalyticsQuery(filter, interval, AnalyticsDimension.Model), ct);
        var all = byModel.GroupBy(c => c.Bucket)
            .Select(b => new MetricCell(b.Key, null, AnalyticsService.Merge(b.Select(c => c.Aggregate))))
            .ToList();
        return new TrendReport(filter, clock.GetUtcNow(), TrendAnalysis.Analyze(filter, interval, all, byModel));
    }

    /// <summary>Checked before the cache is read, so a cached report is never shown to someone who may not read.</summary>
    private Guid RequireView()
    {
        if (team.TeamId is not { } teamId || !team.Can(Permission.ViewTraces))
        {
            throw new PermissionDeniedException("Reading analytics needs an API key with the 'read' scope.");
        }

        return teamId;
    }
}
