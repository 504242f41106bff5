using EvalPlatform.Core.Analytics;

namespace EvalPlatform.Web.Analytics;

/// <summary>
/// Where the dashboard's "What changed" panel gets its findings: the seam between the page and the trend service, so
/// the page's tests give it findings of their choosing (ADR 19).
/// </summary>
public interface IDashboardTrends
{
    /// <summary>The findings for the dashboard's filter and range, most important first; empty when there is nothing to say.</summary>
    Task<IReadOnlyList<TrendFinding>> FindAsync(AnalyticsFilter filter, CancellationToken ct = default);
}

/// <summary>The findings of <see cref="TrendService"/> for the page's filter and range, computed when the view changes.</summary>
public sealed class TrendServiceDashboardTrends(TrendService trends) : IDashboardTrends
{
    public async Task<IReadOnlyList<TrendFinding>> FindAsync(AnalyticsFilter filter, CancellationToken ct = default) =>
        (await trends.FindAsync(filter, ct)).Findings;
}
