using System.Globalization;
using System.Text.Json.Nodes;
using EvalPlatform.Core.Common;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Notifications;
using EvalPlatform.Core.Tenancy;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EvalPlatform.Core.Experiments;

/// <summary>What one analysis of every running experiment did.</summary>
public sealed record ExperimentAnalysisRun(int Experiments, int Failed, int Notified);

/// <summary>
/// Analyses one running experiment of the team in context and, when its primary result first turns significant or its sample
/// ratio mismatch check first fires, enqueues an <see cref="NotificationEventTypes.ExperimentResult"/> notification and marks
/// it announced, in one <c>SaveChangesAsync</c> of the scope's <see cref="IEvalDbContext"/> (the outbox adds its rows there):
/// each transition is announced once.
/// </summary>
public sealed class ExperimentAnalysis(IEvalDbContext db, ExperimentResults results, INotificationOutbox outbox, ITeamContext team)
{
    public async Task<int> AnalyzeAsync(Guid experimentId, CancellationToken ct = default)
    {
        var teamId = team.TeamId ?? throw new PermissionDeniedException("No team.");
        var experiment = await db.Experiments.SingleOrDefaultAsync(e => e.Id == experimentId, ct) ?? throw new NotFoundException("No such experiment in this team.");
        var report = await results.ReadAsync(db, experiment, ct);
        var notified = 0;
        var winner = report.Primary.Analysis.Variants.Skip(1).Where(v => v.Significant).OrderBy(v => v.AdjustedPValue ?? v.PValue).FirstOrDefault();
        if (winner is not null && !experiment.SignificanceNotified)
        {
            experiment.SignificanceNotified = true;
            await outbox.EnqueueAsync(Significant(teamId, report, winner), ct);
            notified++;
        }

        if (report.Primary.Analysis.Srm.Mismatch && !experiment.SrmNotified)
        {
            experiment.SrmNotified = true;
            await outbox.EnqueueAsync(Mismatch(teamId, report), ct);
            notified++;
        }

        await db.SaveChangesAsync(ct);
        return notified;
    }

    private static NotificationEvent Significant(Guid teamId, ExperimentResultsReport report, VariantResult v)
    {
        var e = report.Experiment;
        var lift = v.Lift is { } l ? l.ToString("+0.#%;-0.#%", CultureInfo.InvariantCulture) : "n/a";
        var text = $"{e.Primary.Label}: {v.Key} against {report.Primary.Samples[0].Key}, lift {lift} (p = {Format(v.AdjustedPValue ?? v.PValue)}), {report.Primary.Analysis.Method}.";
        return new NotificationEvent(teamId, NotificationEventTypes.ExperimentResult, $"Experiment {e.Name}: significant result", text,
            $"/experiments/{Uri.EscapeDataString(e.Key)}", Data(report, "significant", v.Key));
    }

    private static NotificationEvent Mismatch(Guid teamId, ExperimentResultsReport report)
    {
        var e = report.Experiment;
        var srm = report.Primary.Analysis.Srm;
        var text = $"The units per variant ({string.Join(" / ", report.Primary.Samples.Select(s => s.Units))}) do not match the weights "
            + $"({string.Join(" / ", report.Primary.Samples.Select(s => s.Weight.ToString("0.###", CultureInfo.InvariantCulture)))}): chi-square p = {Format(srm.PValue)}. "
            + "The results cannot be trusted until the cause is found.";
        return new NotificationEvent(teamId, NotificationEventTypes.ExperimentResult, $"Experiment {e.Name}: sample ratio mismatch", text,
            $"/experiments/{Uri.EscapeDataString(e.Key)}", Data(report, "sample_ratio_mismatch", null), NotificationSeverity.Warning);
    }

    private static JsonObject Data(ExperimentResultsReport report, string kind, string? variant) => new()
    {
        ["experiment"] = report.Experiment.Key,
        ["name"] = report.Experiment.Name,
        ["kind"] = kind,
        ["metric"] = report.Primary.Metric.Wire,
        ["variant"] = variant,
        ["srm_p_value"] = report.Primary.Analysis.Srm.PValue,
        ["method"] = report.Primary.Analysis.Method,
    };

    private static string Format(double? p) => p is { } x ? (x < 0.0001 ? "< 0.0001" : x.ToString("0.####", CultureInfo.InvariantCulture)) : "n/a";
}

/// <summary>Every 15 minutes (the <c>experiments</c> job): analyses every running experiment of every team, each in a scope acting for its team.</summary>
public sealed class ExperimentAnalysisRunner(IServiceScopeFactory scopes, ILogger<ExperimentAnalysisRunner> logger)
{
    public const string JobName = "experiments";

    public async Task<ExperimentAnalysisRun> AnalyzeAllAsync(CancellationToken ct = default)
    {
        var running = await RunningAcrossTeamsAsync(ct);
        int failed = 0, notified = 0;
        foreach (var (teamId, experimentId) in running)
        {
            ct.ThrowIfCancellationRequested();
            await using var scope = scopes.CreateAsyncScope();
            scope.ServiceProvider.GetRequiredService<TeamContext>().SetJob(teamId, JobName);
            try
            {
                notified += await scope.ServiceProvider.GetRequiredService<ExperimentAnalysis>().AnalyzeAsync(experimentId, ct);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                failed++;
                logger.LogError(e, "Experiment {ExperimentId} of team {TeamId} could not be analysed", experimentId, teamId);
            }
        }

        return new ExperimentAnalysisRun(running.Count, failed, notified);
    }

    /// <summary>The one cross-team read of experiments: running ones, of every team.</summary>
    private async Task<List<(Guid TeamId, Guid Id)>> RunningAcrossTeamsAsync(CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        await using var db = await scope.ServiceProvider.GetRequiredService<IEvalDbContextFactory>().CreateAsync(ct);
        var rows = await db.Experiments.IgnoreQueryFilters().AsNoTracking().Where(e => e.Status == ExperimentStatus.Running)
            .OrderBy(e => e.TeamId).ThenBy(e => e.Id).Select(e => new { e.TeamId, e.Id }).ToListAsync(ct);
        return rows.Select(r => (r.TeamId, r.Id)).ToList();
    }
}
