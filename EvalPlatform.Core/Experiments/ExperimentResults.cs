using EvalPlatform.Core.Common;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Core.Traces;
using Microsoft.EntityFrameworkCore;

namespace EvalPlatform.Core.Experiments;

/// <summary>One metric's analysis, with the sufficient statistics it was computed from.</summary>
public sealed record ExperimentMetricResult(ExperimentMetric Metric, IReadOnlyList<VariantSample> Samples, ExperimentAnalysisResult Analysis);

/// <summary>An experiment's results over [<see cref="From"/>, <see cref="To"/>): the primary metric, the guardrails, each variant's exposures.</summary>
public sealed record ExperimentResultsReport(
    Experiment Experiment, DateTimeOffset From, DateTimeOffset To, ExperimentMetricResult Primary, IReadOnlyList<ExperimentMetricResult> Guardrails,
    IReadOnlyDictionary<string, long> Exposures);

/// <summary>The primary metric's analysis of the traces up to <see cref="At"/> (cumulative from the start): one point of the lift chart.</summary>
public sealed record ExperimentLiftPoint(DateTimeOffset At, ExperimentAnalysisResult Analysis);

/// <summary>
/// Reads an experiment's results from the traces (ADR 27): the traces that carry its key and a variant, started within its
/// running time (first start to stop, or now) and matching its targeting filters. Per variant and metric it computes the
/// sufficient statistics in the database — units (distinct unit ids of the experiment's unit), traces, the metric's count,
/// sum and sum of squares: one grouped query for the counts and one per metric, the same on PostgreSQL and SQLite — and
/// hands them to <see cref="IExperimentStatistics"/>. It computes no statistic itself.
/// </summary>
public sealed class ExperimentResults(IEvalDbContextFactory dbFactory, ITeamContext team, IExperimentStatistics statistics, TimeProvider clock)
{
    /// <summary>The lift chart has at most this many points (one a day, or one every few days for a long experiment).</summary>
    public const int MaxLiftPoints = 60;

    public async Task<ExperimentResultsReport> ReadAsync(string key, CancellationToken ct = default)
    {
        RequireView();
        await using var db = await dbFactory.CreateAsync(ct);
        var experiment = await db.Experiments.AsNoTracking().SingleOrDefaultAsync(e => e.Key == key, ct) ?? throw new NotFoundException("No such experiment in this team.");
        return await ReadAsync(db, experiment, ct);
    }

    /// <summary>The results of <paramref name="experiment"/> (of the team in context) read through <paramref name="db"/>.</summary>
    public async Task<ExperimentResultsReport> ReadAsync(IEvalDbContext db, Experiment experiment, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentNullException.ThrowIfNull(experiment);
        RequireView();
        var (from, to) = Window(experiment);
        var counts = await CountsAsync(db, experiment, from, to, ct);
        var primary = await AnalyzeAsync(db, experiment, experiment.Primary, counts, from, to, ct);
        var guardrails = new List<ExperimentMetricResult>();
        foreach (var metric in experiment.Guardrails)
        {
            guardrails.Add(await AnalyzeAsync(db, experiment, metric, counts, from, to, ct));
        }

        var exposures = await db.ExperimentAssignments.AsNoTracking().Where(a => a.ExperimentId == experiment.Id)
            .GroupBy(a => a.Variant).Select(g => new { g.Key, Exposures = g.Sum(a => a.Exposures) }).ToListAsync(ct);
        return new ExperimentResultsReport(experiment, from, to, primary, guardrails, exposures.ToDictionary(x => x.Key, x => x.Exposures, StringComparer.Ordinal));
    }

    /// <summary>
    /// The primary metric's cumulative analysis at the end of each day (UTC) since the start, at most <see cref="MaxLiftPoints"/>
    /// points: distinct units cannot be added up day by day, so each point reads its whole range.
    /// </summary>
    public async Task<IReadOnlyList<ExperimentLiftPoint>> LiftOverTimeAsync(string key, CancellationToken ct = default)
    {
        RequireView();
        await using var db = await dbFactory.CreateAsync(ct);
        var experiment = await db.Experiments.AsNoTracking().SingleOrDefaultAsync(e => e.Key == key, ct) ?? throw new NotFoundException("No such experiment in this team.");
        var (from, to) = Window(experiment);
        if (to <= from)
        {
            return [];
        }

        var firstDay = new DateTimeOffset(from.UtcDateTime.Date, TimeSpan.Zero);
        var days = (int)Math.Ceiling((to - firstDay).TotalDays);
        var step = Math.Max(1, (int)Math.Ceiling(days / (double)MaxLiftPoints));
        var points = new List<ExperimentLiftPoint>();
        for (var d = step; ; d += step)
        {
            var end = firstDay.AddDays(d);
            var at = end < to ? end : to;
            var counts = await CountsAsync(db, experiment, from, at, ct);
            points.Add(new ExperimentLiftPoint(at, (await AnalyzeAsync(db, experiment, experiment.Primary, counts, from, at, ct)).Analysis));
            if (end >= to)
            {
                break;
            }
        }

        return points;
    }

    /// <summary>
    /// One variant's sufficient statistics for one metric over [<paramref name="from"/>, <paramref name="to"/>): in the
    /// experiment's order, every variant (one without traces has zeros). Public for the tests that check them by hand.
    /// </summary>
    public async Task<IReadOnlyList<VariantSample>> SamplesAsync(
        IEvalDbContext db, Experiment experiment, ExperimentMetric metric, DateTimeOffset from, DateTimeOffset to, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentNullException.ThrowIfNull(experiment);
        ArgumentNullException.ThrowIfNull(metric);
        RequireView();
        var counts = await CountsAsync(db, experiment, from, to, ct);
        return await MetricSamplesAsync(db, experiment, metric, counts, from, to, ct);
    }

    /// <summary>From the first start to the stop (or now); a draft has an empty window.</summary>
    public (DateTimeOffset From, DateTimeOffset To) Window(Experiment experiment)
    {
        ArgumentNullException.ThrowIfNull(experiment);
        var now = clock.GetUtcNow();
        var from = experiment.StartedAt ?? now;
        var to = experiment.StoppedAt is { } stopped && stopped < now ? stopped : now;
        // The end is exclusive: a trace stored this very tick counts.
        return (from, to < from ? from : to.AddTicks(1));
    }

    private async Task<ExperimentMetricResult> AnalyzeAsync(
        IEvalDbContext db, Experiment experiment, ExperimentMetric metric, Dictionary<string, UnitCounts> counts, DateTimeOffset from, DateTimeOffset to,
        CancellationToken ct)
    {
        var samples = await MetricSamplesAsync(db, experiment, metric, counts, from, to, ct);
        var analysis = statistics.Analyze(new ExperimentAnalysisRequest(
            metric.Kind, samples, experiment.SignificanceLevel, Sequential: true, experiment.MinimumDetectableEffect));
        return new ExperimentMetricResult(metric, samples, analysis);
    }

    private static IQueryable<Trace> Traces(IEvalDbContext db, Experiment experiment, DateTimeOffset from, DateTimeOffset to) =>
        TraceQueries.Apply(db.Traces.AsNoTracking(), experiment.Filters.ToTraceFilter(from, to))
            .Where(t => t.Experiment == experiment.Key && t.Variant != null);

    private sealed record UnitCounts(long Units, long Traces);

    private sealed record Observations(string? Variant, long Count, double Sum, double SumOfSquares);

    private static async Task<Dictionary<string, UnitCounts>> CountsAsync(IEvalDbContext db, Experiment experiment, DateTimeOffset from, DateTimeOffset to, CancellationToken ct)
    {
        var traces = Traces(db, experiment, from, to);
        var rows = experiment.Unit switch
        {
            ExperimentUnit.UserId => await traces.GroupBy(t => t.Variant)
                .Select(g => new { Variant = g.Key, Units = g.Select(t => t.UserId).Distinct().Count(), Traces = g.Count() }).ToListAsync(ct),
            ExperimentUnit.SessionId => await traces.GroupBy(t => t.Variant)
                .Select(g => new { Variant = g.Key, Units = g.Select(t => t.SessionId).Distinct().Count(), Traces = g.Count() }).ToListAsync(ct),
            _ => await traces.GroupBy(t => t.Variant).Select(g => new { Variant = g.Key, Units = g.Count(), Traces = g.Count() }).ToListAsync(ct),
        };
        return rows.ToDictionary(r => r.Variant!, r => new UnitCounts(r.Units, r.Traces), StringComparer.Ordinal);
    }

    private static async Task<IReadOnlyList<VariantSample>> MetricSamplesAsync(
        IEvalDbContext db, Experiment experiment, ExperimentMetric metric, Dictionary<string, UnitCounts> counts, DateTimeOffset from, DateTimeOffset to,
        CancellationToken ct)
    {
        var traces = Traces(db, experiment, from, to);
        List<Observations> rows = metric.Type switch
        {
            // The analytics' definitions: acceptance is accepted over decided; a proportion's sum of squares is its sum.
            ExperimentMetricType.AcceptanceRate => await traces.Where(t => t.ReviewStatus == ReviewStatus.Accepted || t.ReviewStatus == ReviewStatus.Rejected)
                .GroupBy(t => t.Variant)
                .Select(g => new Observations(g.Key, g.Count(), g.Sum(t => t.ReviewStatus == ReviewStatus.Accepted ? 1.0 : 0.0), g.Sum(t => t.ReviewStatus == ReviewStatus.Accepted ? 1.0 : 0.0)))
                .ToListAsync(ct),
            ExperimentMetricType.ErrorRate => await traces.GroupBy(t => t.Variant)
                .Select(g => new Observations(g.Key, g.Count(), g.Sum(t => t.Error != null ? 1.0 : 0.0), g.Sum(t => t.Error != null ? 1.0 : 0.0)))
                .ToListAsync(ct),
            ExperimentMetricType.HumanScore => await traces.Where(t => t.HumanScore != null).GroupBy(t => t.Variant)
                .Select(g => new Observations(g.Key, g.Count(), g.Sum(t => t.HumanScore!.Value), g.Sum(t => t.HumanScore!.Value * t.HumanScore!.Value)))
                .ToListAsync(ct),
            ExperimentMetricType.Latency => await traces.Where(t => t.LatencyMs != null).GroupBy(t => t.Variant)
                .Select(g => new Observations(g.Key, g.Count(), g.Sum(t => t.LatencyMs!.Value), g.Sum(t => t.LatencyMs!.Value * t.LatencyMs!.Value)))
                .ToListAsync(ct),
            ExperimentMetricType.CostPerTrace => await traces.Where(t => t.Cost != null).GroupBy(t => t.Variant)
                .Select(g => new Observations(g.Key, g.Count(), g.Sum(t => (double)t.Cost!.Value), g.Sum(t => (double)t.Cost!.Value * (double)t.Cost!.Value)))
                .ToListAsync(ct),
            ExperimentMetricType.ScoreMean => await db.Scores.AsNoTracking().Where(s => s.Name == metric.ScoreName && s.NumericValue != null)
                .Join(traces, s => s.TraceId, t => t.Id, (s, t) => new { t.Variant, Value = s.NumericValue!.Value })
                .GroupBy(x => x.Variant)
                .Select(g => new Observations(g.Key, g.Count(), g.Sum(x => x.Value), g.Sum(x => x.Value * x.Value)))
                .ToListAsync(ct),
            _ => throw new ArgumentOutOfRangeException(nameof(metric)),
        };
        var byVariant = rows.Where(r => r.Variant is not null).ToDictionary(r => r.Variant!, StringComparer.Ordinal);
        return experiment.Variants.Select(v =>
        {
            var c = counts.GetValueOrDefault(v.Key) ?? new UnitCounts(0, 0);
            var o = byVariant.GetValueOrDefault(v.Key);
            return new VariantSample(v.Key, v.Weight, c.Units, c.Traces, o?.Count ?? 0, o?.Sum ?? 0, o?.SumOfSquares ?? 0);
        }).ToList();
    }

    private void RequireView()
    {
        if (!team.Can(Permission.ViewTraces) || team.TeamId is null)
        {
            throw new PermissionDeniedException("Reading experiment results needs an API key with the 'read' scope.");
        }
    }
}
