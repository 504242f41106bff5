using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EvalPlatform.Core.Analytics;

/// <summary>What one refresh of every team's default trend report did.</summary>
public sealed record TrendRefreshRun(int Teams, int Failed, int Findings);

/// <summary>
/// The hourly trends job's one call: the default trend report of every team, each computed in a scope of its own that
/// acts as that team (<see cref="TeamContext.SetJob"/>), so the team's query filter and permission checks apply exactly
/// as for a request, and one team's failure is logged and leaves the others be.
/// </summary>
public sealed class TrendRefresher(IServiceScopeFactory scopes, ILogger<TrendRefresher> logger)
{
    public const string JobName = "trends";

    public async Task<TrendRefreshRun> RefreshAllAsync(CancellationToken ct = default)
    {
        List<Guid> teamIds;
        await using (var scope = scopes.CreateAsyncScope())
        {
            teamIds = (await scope.ServiceProvider.GetRequiredService<TeamService>().ListTeamsAsync(ct)).Select(t => t.Id).ToList();
        }

        int failed = 0, findings = 0;
        foreach (var teamId in teamIds)
        {
            ct.ThrowIfCancellationRequested();
            await using var scope = scopes.CreateAsyncScope();
            scope.ServiceProvider.GetRequiredService<TeamContext>().SetJob(teamId, JobName);
            try
            {
                var report = await scope.ServiceProvider.GetRequiredService<TrendService>().RefreshDefaultAsync(ct);
                findings += report.Findings.Count;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                failed++;
                logger.LogError(e, "Trends of team {TeamId} could not be computed; the cached report stays until it expires", teamId);
            }
        }

        return new TrendRefreshRun(teamIds.Count, failed, findings);
    }
}
