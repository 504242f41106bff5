using EvalPlatform.Core.Data;
using EvalPlatform.Core.Tenancy;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EvalPlatform.Core.Evaluators;

/// <summary>What one pass over every team's new traces did.</summary>
public sealed record EvaluatorRun(int Evaluators, int Scored, int NotScored, int Failed);

/// <summary>
/// The <c>evaluators</c> minute job's one call: every enabled evaluator of every team that runs on new traces, each in a
/// scope acting for its team (<see cref="EvaluatorJudge.JudgeNewTracesAsync"/>). One evaluator's failure is logged and the
/// others go on.
/// </summary>
public sealed class EvaluatorRunner(IServiceScopeFactory scopes, ILogger<EvaluatorRunner> logger)
{
    public const string JobName = "evaluators";

    public async Task<EvaluatorRun> JudgeNewTracesAsync(CancellationToken ct = default)
    {
        List<(Guid TeamId, Guid Id)> evaluators;
        await using (var scope = scopes.CreateAsyncScope())
        await using (var db = await scope.ServiceProvider.GetRequiredService<IEvalDbContextFactory>().CreateAsync(ct))
        {
            // Across teams on purpose: the job's list; each evaluator then runs acting for its own team.
            evaluators = (await db.Evaluators.IgnoreQueryFilters().AsNoTracking().Where(e => e.Enabled && e.OnNewTraces)
                .OrderBy(e => e.TeamId).ThenBy(e => e.Id).Select(e => new { e.TeamId, e.Id }).ToListAsync(ct))
                .Select(e => (e.TeamId, e.Id)).ToList();
        }

        int scored = 0, notScored = 0, failed = 0;
        foreach (var (teamId, id) in evaluators)
        {
            ct.ThrowIfCancellationRequested();
            await using var scope = scopes.CreateAsyncScope();
            scope.ServiceProvider.GetRequiredService<TeamContext>().SetJob(teamId, JobName);
            try
            {
                var (s, n) = await scope.ServiceProvider.GetRequiredService<EvaluatorJudge>().JudgeNewTracesAsync(id, ct);
                scored += s;
                notScored += n;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                failed++;
                logger.LogError(e, "Evaluator {EvaluatorId} of team {TeamId} could not judge its new traces", id, teamId);
            }
        }

        return new EvaluatorRun(evaluators.Count, scored, notScored, failed);
    }
}
