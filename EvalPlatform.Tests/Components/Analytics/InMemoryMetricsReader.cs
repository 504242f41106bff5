using EvalPlatform.Core.Analytics;

namespace EvalPlatform.Tests.Components.Analytics;

/// <summary>One crafted trace for <see cref="InMemoryMetricsReader"/>: when, its dimensions, and its figures as an aggregate of one.</summary>
public sealed record FakeTrace(DateTimeOffset At, MetricAggregate Aggregate, string? Model = null, string? Provider = null, string? Environment = null, string? UserId = null);

/// <summary>
/// An <see cref="IMetricsReader"/> over crafted traces, for component tests: it honours the range, the filters it
/// knows (model, provider, environment), the interval and the grouping, as the real reader promises; it records
/// each query, and fails on demand.
/// </summary>
public sealed class InMemoryMetricsReader(TimeProvider clock) : IMetricsReader
{
    private readonly List<DateTimeOffset> _times = [];

    private readonly Lock _lock = new();
    private readonly List<FakeTrace> _traces = [];
    private readonly List<AnalyticsQuery> _queries = [];

    /// <summary>When set, the next read computes its answer, then waits for this before answering (and clears it).</summary>
    public TaskCompletionSource? Gate { get; set; }

    /// <summary>Thrown by every read while set.</summary>
    public Exception? Failure { get; set; }

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
        }

        return aggregate;
    }

    public async Task<IReadOnlyList<MetricCell>> ReadAsync(AnalyticsQuery query, CancellationToken ct = default)
    {
        var cells = Read(query);
        var gate = Gate;
        if (gate is not null)
        {
            Gate = null;
            await gate.Task.WaitAsync(ct);
        }

        return cells;
    }

    private IReadOnlyList<MetricCell> Read(AnalyticsQuery query)
    {
        ArgumentNullException.ThrowIfNull(query);
        lock (_lock)
        {
            _queries.Add(query);
            _times.Add(clock.GetUtcNow());
            if (Failure is { } failure)
            {
                throw failure;
            }

            var f = query.Filter;
            IReadOnlyList<MetricCell> cells = _traces
                .Where(t => t.At >= f.From && t.At < f.To && (f.Model is null || t.Model == f.Model)
                    && (f.Provider is null || t.Provider == f.Provider) && (f.Environment is null || t.Environment == f.Environment))
                .GroupBy(t => (Bucket: query.Interval.Floor(t.At), Group: Group(t, query.GroupBy)))
                .Select(g => new MetricCell(g.Key.Bucket, g.Key.Group, AnalyticsService.Merge(g.Select(t => Copy(t.Aggregate)))))
                .OrderBy(c => c.Bucket).ThenBy(c => c.Group, StringComparer.Ordinal)
                .ToList();
            return cells;
        }
    }

    private static MetricAggregate Copy(MetricAggregate aggregate)
    {
        var copy = new MetricAggregate();
        copy.Merge(aggregate);
        return copy;
    }

    private static string? Group(FakeTrace trace, AnalyticsDimension? by) => by switch
    {
        AnalyticsDimension.Model => trace.Model,
        AnalyticsDimension.Provider => trace.Provider,
        AnalyticsDimension.Environment => trace.Environment,
        AnalyticsDimension.UserId => trace.UserId,
        null => null,
        _ => throw new NotSupportedException($"The in-memory reader does not group by {by}."),
    };
}
