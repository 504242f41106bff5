using EvalPlatform.Core.Analytics;

namespace EvalPlatform.Web.Analytics;

/// <summary>
/// Where the dashboard's "What changed" panel gets its findings. The seam between the page and the trend service:
/// the page depends on this, and the registration decides what answers (<see cref="NoDashboardTrends"/> until the
/// trend service is wired in).
/// </summary>
public interface IDashboardTrends
{
    /// <summary>The findings for the dashboard's filter and range, most important first; empty when there is nothing to say.</summary>
    Task<IReadOnlyList<TrendFinding>> FindAsync(AnalyticsFilter filter, CancellationToken ct = default);
}

/// <summary>No trend analysis available: the panel says nothing changed that it knows of.</summary>
public sealed class NoDashboardTrends : IDashboardTrends
{
    public Task<IReadOnlyList<TrendFinding>> FindAsync(AnalyticsFilter filter, CancellationToken ct = default) =>
        Task.FromResult<IReadOnlyList<TrendFinding>>([]);
}
