using System.Text.Json;
using EvalPlatform.Core.Analytics;
using EvalPlatform.Core.Scores;
using EvalPlatform.Core.Traces;
using Microsoft.EntityFrameworkCore;

namespace EvalPlatform.Data.Queries.Analytics;

/// <summary>The columns of a trace that metrics read.</summary>
internal sealed record RawTrace(
    Guid Id, DateTimeOffset StartedAt, string? Model, string? Provider, string? Environment, string? Experiment, string? Variant,
    bool HasError, int? PromptTokens, int? CompletionTokens, decimal? Cost, double? LatencyMs, double? TimeToFirstTokenMs,
    ReviewStatus Status, string? Reason, double? HumanScore, string? UserId, List<string>? Tags, string? Metadata);

/// <summary>
/// Aggregates raw traces into <see cref="MetricAggregate"/>s by a key per trace: the one place that turns a trace into
/// counts, so the rollup and the reader's live edge count alike. Rows are read slim (no texts) and folded as they come.
/// </summary>
internal static class RawTraceAggregator
{
    /// <summary>
    /// Folds <paramref name="traces"/> (already filtered to one team and the ranges) and the numeric scores of
    /// <paramref name="scores"/> on them into one aggregate per key; a trace with several keys (tags) counts in each.
    /// </summary>
    public static async Task<Dictionary<TKey, MetricAggregate>> AggregateAsync<TKey>(
        IQueryable<Trace> traces, IQueryable<Score> scores, bool withGroupFields, Func<RawTrace, IEnumerable<TKey>> keys, CancellationToken ct)
        where TKey : notnull
    {
        var result = new Dictionary<TKey, MetricAggregate>();
        var keysOf = new Dictionary<Guid, TKey[]>();
        var rows = withGroupFields
            ? traces.Select(t => new RawTrace(t.Id, t.StartedAt, t.Model, t.Provider, t.Environment, t.Experiment, t.Variant, t.Error != null,
                t.PromptTokens, t.CompletionTokens, t.Cost, t.LatencyMs, t.TimeToFirstTokenMs, t.ReviewStatus, t.ReviewReason, t.HumanScore,
                t.UserId, t.Tags, t.Metadata))
            : traces.Select(t => new RawTrace(t.Id, t.StartedAt, t.Model, t.Provider, t.Environment, t.Experiment, t.Variant, t.Error != null,
                t.PromptTokens, t.CompletionTokens, t.Cost, t.LatencyMs, t.TimeToFirstTokenMs, t.ReviewStatus, t.ReviewReason, t.HumanScore,
                null, null, null));
        await foreach (var row in rows.AsNoTracking().AsAsyncEnumerable().WithCancellation(ct))
        {
            var rowKeys = keys(row).ToArray();
            keysOf[row.Id] = rowKeys;
            foreach (var key in rowKeys)
            {
                if (!result.TryGetValue(key, out var aggregate))
                {
                    result[key] = aggregate = new MetricAggregate();
                }

                Add(aggregate, row);
            }
        }

        if (keysOf.Count == 0)
        {
            return result;
        }

        var ids = traces.Select(t => t.Id);
        var numeric = scores.Where(s => s.NumericValue != null && ids.Contains(s.TraceId))
            .Select(s => new { s.TraceId, s.Name, Value = s.NumericValue!.Value });
        await foreach (var score in numeric.AsNoTracking().AsAsyncEnumerable().WithCancellation(ct))
        {
            if (keysOf.TryGetValue(score.TraceId, out var traceKeys))
            {
                foreach (var key in traceKeys)
                {
                    var s = result[key].Scores;
                    s[score.Name] = s.GetValueOrDefault(score.Name) + new ScoreTotal(score.Value, 1);
                }
            }
        }

        return result;
    }

    public static void Add(MetricAggregate a, RawTrace t)
    {
        a.Traces++;
        a.Errors += t.HasError ? 1 : 0;
        a.PromptTokens += t.PromptTokens ?? 0;
        a.CompletionTokens += t.CompletionTokens ?? 0;
        if (t.Cost is { } cost)
        {
            a.Cost += cost;
            a.CostSquares += (double)cost * (double)cost;
        }

        if (t.LatencyMs is { } latency)
        {
            a.Latency.Add(latency);
        }

        if (t.TimeToFirstTokenMs is { } ttft)
        {
            a.TimeToFirstToken.Add(ttft);
        }

        switch (t.Status)
        {
            case ReviewStatus.Accepted:
                a.Accepted++;
                break;
            case ReviewStatus.Rejected:
                a.Rejected++;
                var reason = t.Reason ?? "";
                a.RejectionReasons[reason] = a.RejectionReasons.GetValueOrDefault(reason) + 1;
                break;
            case ReviewStatus.NeedsReview:
                a.NeedsReview++;
                break;
        }

        if (t.HumanScore is { } score)
        {
            a.HumanScoreSum += score;
            a.HumanScoreCount++;
            a.HumanScoreSquares += score * score;
            a.CountHumanScore(score);
        }
    }

    /// <summary>The group(s) of a trace for a dimension read from the traces: a trace counts under each of its tags.</summary>
    public static IEnumerable<string?> Groups(RawTrace t, AnalyticsDimension dimension, string? metadataKey) => dimension switch
    {
        AnalyticsDimension.Model => [t.Model],
        AnalyticsDimension.Provider => [t.Provider],
        AnalyticsDimension.Environment => [t.Environment],
        AnalyticsDimension.Experiment => [t.Experiment],
        AnalyticsDimension.Variant => [t.Variant],
        AnalyticsDimension.UserId => [t.UserId],
        AnalyticsDimension.Tag => t.Tags is { Count: > 0 } tags ? tags.Distinct(StringComparer.Ordinal).Cast<string?>() : [null],
        AnalyticsDimension.Metadata => [MetadataValue(t.Metadata, metadataKey)],
        _ => throw new ArgumentOutOfRangeException(nameof(dimension), dimension, null),
    };

    /// <summary>A top-level metadata key's value as text (a string as is, other JSON as written); null when absent or null.</summary>
    public static string? MetadataValue(string? metadata, string? key)
    {
        if (string.IsNullOrEmpty(metadata) || string.IsNullOrEmpty(key))
        {
            return null;
        }

        try
        {
            using var doc = JsonDocument.Parse(metadata);
            if (doc.RootElement.ValueKind != JsonValueKind.Object || !doc.RootElement.TryGetProperty(key, out var value))
            {
                return null;
            }

            return value.ValueKind switch
            {
                JsonValueKind.Null or JsonValueKind.Undefined => null,
                JsonValueKind.String => value.GetString(),
                JsonValueKind.True => "true",
                JsonValueKind.False => "false",
                JsonValueKind.Number => value.GetRawText(),
                _ => value.GetRawText(),
            };
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
