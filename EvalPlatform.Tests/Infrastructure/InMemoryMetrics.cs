using EvalPlatform.Core.Analytics;
using EvalPlatform.Core.Tenancy;

namespace EvalPlatform.Tests.Infrastructure;

/// <summary>One crafted trace for <see cref="InMemoryMetricsStore"/>: when, its figures as an aggregate (of one trace, or of a
/// model's hour), its dimensions, and its team (null: every team's, for tests of one team).</summary>
public sealed record FakeTrace(
    DateTimeOffset At, MetricAggregate Aggregate, string? Model = null, string? Provider = null, string? Environment = null, string? UserId = null,
    Guid? TeamId = null);

/// <summary>
/// Metrics held in memory, for tests of what reads metrics (the dashboard's components, trends) while the real reader is
/// elsewhere: the one in-memory <see cref="IMetricsReader"/> of the tests, through <see cref="InMemoryMetricsReader"/>. It honours
/// the team, the range, the filters it knows (model, provider, environment), the interval, the grouping and the stacking (model,
/// provider, environment, user), as the real reader promises; it records each query (and when, on the given clock), and fails
/// or waits on demand.
/// </summary>
public sealed class InMemoryMetricsStore(TimeProvider? clock = null)
{
    private readonly TimeProvider _clock = clock ?? TimeProvider.System;
    private readonly Lock _lock = new();
    private readonly List<FakeTrace> _traces = [];
    private readonly List<AnalyticsQuery> _queries = [];
    private readonly List<DateTimeOffset> _times = [];

    /// <summary>When set, the next read computes its answer, then waits for this before answering (and clears it).</summary>
    public TaskCompletionSource? Gate { get; set; }

    /// <summary>Thrown by every read while set.</summary>
    public Exception? Failure { get; set; }

    /// <summary>How many reads were answered, for cache tests.</summary>
    public int Reads
    {
        get
        {
            lock (_lock)
            {
                return _queries.Count;
            }
        }
    }

    public IReadOnlyList<AnalyticsQuery> Queries
    {
        get
        {
            lock (_lock)
            {
                return [.. _queries];
            }
        }
    }

    /// <summary>When each query came (on the given clock), in the order of <see cref="Queries"/>.</summary>
    public IReadOnlyList<DateTimeOffset> QueryTimes
    {
        get
        {
            lock (_lock)
            {
                return [.. _times];
            }
        }
    }

    public void Add(FakeTrace trace)
    {
        lock (_lock)
        {
            _traces.Add(trace);
        }
    }

    /// <summary>One model's aggregate for one hour of a team.</summary>
    public void Add(Guid teamId, DateTimeOffset hour, string? model, MetricAggregate aggregate) =>
        Add(new FakeTrace(MetricInterval.Hour.Floor(hour), aggregate, model, TeamId: teamId));

    public void Clear(Guid teamId)
    {
        lock (_lock)
        {
            _traces.RemoveAll(t => t.TeamId == teamId);
        }
    }

    /// <summary>The figures of one trace.</summary>
    public static MetricAggregate One(double latencyMs = 100, decimal cost = 0.01m, bool error = false, string? verdict = null, string? reason = null, double? score = null)
    {
        var aggregate = new MetricAggregate { Traces = 1, Errors = error ? 1 : 0, PromptTokens = 10, CompletionTokens = 5, Cost = cost, CostSquares = (double)(cost * cost) };
        aggregate.Latency.Add(latencyMs);
        switch (verdict)
        {
            case "accepted":
                aggregate.Accepted = 1;
                break;
            case "rejected":
                aggregate.Rejected = 1;
                aggregate.RejectionReasons[reason ?? ""] = 1;
                break;
        }

        if (score is { } s)
        {
            aggregate.HumanScoreSum = s;
            aggregate.HumanScoreCount = 1;
            aggregate.HumanScoreSquares = s * s;
            aggregate.CountHumanScore(s);
        }

        return aggregate;
    }

    /// <summary>The cells of <paramref name="query"/> for <paramref name="teamId"/> (none without a team), ordered by bucket, group and stack.</summary>
    public async Task<IReadOnlyList<MetricCell>> ReadAsync(Guid? teamId, AnalyticsQuery query, CancellationToken ct = default)
    {
        var cells = Read(teamId, query);
        var gate = Gate;
        if (gate is not null)
        {
            Gate = null;
            await gate.Task.WaitAsync(ct);
        }

        return cells;
    }

    private List<MetricCell> Read(Guid? teamId, AnalyticsQuery query)
    {
        ArgumentNullException.ThrowIfNull(query);
        lock (_lock)
        {
            _queries.Add(query);
            _times.Add(_clock.GetUtcNow());
            if (Failure is { } failure)
            {
                throw failure;
            }

            if (teamId is null)
            {
                return [];
            }

            var f = query.Filter;
            return _traces
                .Where(t => (t.TeamId is null || t.TeamId == teamId) && t.At >= f.From && t.At < f.To && (f.Model is null || t.Model == f.Model)
                    && (f.Provider is null || t.Provider == f.Provider) && (f.Environment is null || t.Environment == f.Environment))
                .GroupBy(t => (Bucket: query.Interval.Floor(t.At), Group: Group(t, query.GroupBy), Stack: Group(t, query.StackBy)))
                .Select(g => new MetricCell(g.Key.Bucket, g.Key.Group, AnalyticsService.Merge(g.Select(t => t.Aggregate)), g.Key.Stack))
                .OrderBy(c => c.Bucket).ThenBy(c => c.Group, StringComparer.Ordinal).ThenBy(c => c.Stack, StringComparer.Ordinal)
                .ToList();
        }
    }

    private static string? Group(FakeTrace trace, AnalyticsDimension? by) => by switch
    {
        AnalyticsDimension.Model => trace.Model,
        AnalyticsDimension.Provider => trace.Provider,
        AnalyticsDimension.Environment => trace.Environment,
        AnalyticsDimension.UserId => trace.UserId,
        null => null,
        _ => throw new NotSupportedException($"The in-memory metrics do not group by {by}."),
    };
}

/// <summary>The team's reader over <see cref="InMemoryMetricsStore"/>: like the real one, it reads only the team in context.</summary>
public sealed class InMemoryMetricsReader(InMemoryMetricsStore store, ITeamContext team) : IMetricsReader
{
    public Task<IReadOnlyList<MetricCell>> ReadAsync(AnalyticsQuery query, CancellationToken ct = default) => store.ReadAsync(team.TeamId, query, ct);
}

/// <summary>Hourly aggregates drawn from seeded distributions: stationary noise, with whatever change a test injects.</summary>
public static class TrendData
{
    /// <summary>One hour of one model's traffic.</summary>
    public sealed record Hour(
        int Traces = 200, double ErrorRate = 0.02, double LatencyMedianMs = 800, double AcceptanceRate = 0.85, double ReviewShare = 0.5,
        double HumanScoreMean = 4.0, double CostMean = 0.01, double TtftMedianMs = 300);

    public static MetricAggregate Draw(Random rng, Hour h)
    {
        ArgumentNullException.ThrowIfNull(rng);
        ArgumentNullException.ThrowIfNull(h);
        var a = new MetricAggregate { Traces = h.Traces };
        for (var i = 0; i < h.Traces; i++)
        {
            if (rng.NextDouble() < h.ErrorRate)
            {
                a.Errors++;
            }

            a.Latency.Add(h.LatencyMedianMs * Math.Exp(0.3 * Gaussian(rng)));
            a.TimeToFirstToken.Add(h.TtftMedianMs * Math.Exp(0.3 * Gaussian(rng)));
            var cost = Math.Max(0, h.CostMean * (1 + (0.2 * Gaussian(rng))));
            a.Cost += (decimal)cost;
            a.CostSquares += cost * cost;
            a.PromptTokens += 500;
            a.CompletionTokens += 200;
            if (rng.NextDouble() < h.ReviewShare)
            {
                if (rng.NextDouble() < h.AcceptanceRate)
                {
                    a.Accepted++;
                }
                else
                {
                    a.Rejected++;
                }

                var score = Math.Clamp(Math.Round(h.HumanScoreMean + Gaussian(rng)), 1, 5);
                a.HumanScoreSum += score;
                a.HumanScoreSquares += score * score;
                a.CountHumanScore(score);
                a.HumanScoreCount++;
            }
        }

        return a;
    }

    /// <summary>Adds <paramref name="hours"/> hours of <paramref name="model"/> from <paramref name="from"/>, each drawn from <paramref name="shape"/>(hour index).</summary>
    public static void AddHours(InMemoryMetricsStore store, Guid teamId, string model, DateTimeOffset from, int hours, Random rng, Func<int, Hour> shape)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(shape);
        for (var i = 0; i < hours; i++)
        {
            store.Add(teamId, from.AddHours(i), model, Draw(rng, shape(i)));
        }
    }

    /// <summary>A standard normal draw (Box–Muller).</summary>
    private static double Gaussian(Random rng) => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
}
