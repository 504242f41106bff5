using System.Collections.Concurrent;
using EvalPlatform.Core.Analytics;
using EvalPlatform.Core.Tenancy;

namespace EvalPlatform.Tests.Infrastructure;

/// <summary>
/// Metrics cells held in memory per team, for tests of what reads metrics (trends) while the real reader is elsewhere:
/// each cell is one model's aggregate for one hour.
/// </summary>
public sealed class InMemoryMetricsStore
{
    private readonly ConcurrentDictionary<Guid, List<(DateTimeOffset Hour, string? Model, MetricAggregate Aggregate)>> _cells = new();

    private int _reads;

    /// <summary>How many reads were answered, for cache tests.</summary>
    public int Reads => Volatile.Read(ref _reads);

    public void Add(Guid teamId, DateTimeOffset hour, string? model, MetricAggregate aggregate)
    {
        var cells = _cells.GetOrAdd(teamId, _ => []);
        lock (cells)
        {
            cells.Add((MetricInterval.Hour.Floor(hour), model, aggregate));
        }
    }

    public void Clear(Guid teamId) => _cells.TryRemove(teamId, out _);

    /// <summary>The team's cells in the filter's range and model, re-bucketed to the query's interval and grouped as asked (model only).</summary>
    public IReadOnlyList<MetricCell> Read(Guid teamId, AnalyticsQuery query)
    {
        Interlocked.Increment(ref _reads);
        if (query.GroupBy is not (null or AnalyticsDimension.Model))
        {
            throw new NotSupportedException("The in-memory metrics group by model only.");
        }

        if (!_cells.TryGetValue(teamId, out var cells))
        {
            return [];
        }

        List<(DateTimeOffset Hour, string? Model, MetricAggregate Aggregate)> copy;
        lock (cells)
        {
            copy = [.. cells];
        }

        var f = query.Filter;
        return copy
            .Where(c => c.Hour >= f.From && c.Hour < f.To && (f.Model is null || c.Model == f.Model))
            .GroupBy(c => (Bucket: query.Interval.Floor(c.Hour), Group: query.GroupBy is null ? null : c.Model))
            .Select(g => new MetricCell(g.Key.Bucket, g.Key.Group, AnalyticsService.Merge(g.Select(c => c.Aggregate))))
            .OrderBy(c => c.Bucket).ThenBy(c => c.Group, StringComparer.Ordinal)
            .ToList();
    }
}

/// <summary>The team's reader over <see cref="InMemoryMetricsStore"/>: like the real one, it reads only the team in context.</summary>
public sealed class InMemoryMetricsReader(InMemoryMetricsStore store, ITeamContext team) : IMetricsReader
{
    public Task<IReadOnlyList<MetricCell>> ReadAsync(AnalyticsQuery query, CancellationToken ct = default) =>
        Task.FromResult(team.TeamId is { } teamId ? store.Read(teamId, query) : (IReadOnlyList<MetricCell>)[]);
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
