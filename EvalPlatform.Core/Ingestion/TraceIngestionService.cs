using System.Text.Json;
using EvalPlatform.Core.Common;
using EvalPlatform.Core.Live;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Core.Traces;

namespace EvalPlatform.Core.Ingestion;

/// <summary>The outcome of an ingestion request: stored traces, or the problems that stopped it.</summary>
public sealed record IngestOutcome(IReadOnlyList<StoredTrace> Traces, IReadOnlyList<FieldError> Errors, bool IsConflict)
{
    public bool IsValid => Errors.Count == 0;
}

/// <summary>
/// The front door: validates and normalises submitted traces for the current team (from the
/// API key or a signed webhook), stores them through the group-commit queue, then announces them on the live bus.
/// </summary>
public sealed class TraceIngestionService(ITeamContext team, IngestionQueue queue, ILiveBus liveBus, TimeProvider clock)
{
    /// <summary>One trace (POST /traces). Paths in errors are the trace's own fields.</summary>
    public Task<IngestOutcome> IngestOneAsync(JsonElement trace, CancellationToken ct = default) =>
        IngestAsync([trace], arrayPath: null, extraTag: null, ct);

    /// <summary>A batch (POST /traces/batch): all or none; paths are <c>traces[i].field</c>.</summary>
    public Task<IngestOutcome> IngestBatchAsync(IReadOnlyList<JsonElement> traces, CancellationToken ct = default) =>
        IngestAsync(traces, arrayPath: "traces", extraTag: null, ct);

    /// <summary>
    /// A signed webhook delivery (POST /webhooks/{source}): one trace (paths as for one trace) or a
    /// top-level array, all or none (paths <c>[i].field</c>). Each stored trace carries
    /// <paramref name="tag"/> besides the sender's own tags (it does not count against their limit).
    /// </summary>
    public Task<IngestOutcome> IngestWebhookAsync(IReadOnlyList<JsonElement> traces, bool isArray, string tag, CancellationToken ct = default) =>
        IngestAsync(traces, arrayPath: isArray ? "" : null, extraTag: tag, ct);

    // arrayPath: null for one trace, else the JSON path of the array the items came from ("" for a top-level array).
    private async Task<IngestOutcome> IngestAsync(IReadOnlyList<JsonElement> items, string? arrayPath, string? extraTag, CancellationToken ct)
    {
        if (!team.Can(Permission.IngestTraces) || team.TeamId is not { } teamId)
        {
            throw new PermissionDeniedException("Sending traces needs an API key with the 'ingest' scope.");
        }

        var now = clock.GetUtcNow();
        var errors = new List<FieldError>();
        var parsed = new List<ParsedTrace>(items.Count);
        for (var i = 0; i < items.Count; i++)
        {
            if (TraceParser.Parse(items[i], arrayPath is null ? "" : $"{arrayPath}[{i}]", i, now, errors) is { } p)
            {
                parsed.Add(p);
            }
        }

        foreach (var duplicate in parsed.Where(p => p.Trace.ExternalId is not null).GroupBy(p => p.Trace.ExternalId).Where(g => g.Count() > 1))
        {
            foreach (var p in duplicate.Skip(1))
            {
                errors.Add(new FieldError($"{arrayPath}[{p.Index}].external_id", $"Duplicate external_id '{duplicate.Key}' in this batch (first at {arrayPath}[{duplicate.First().Index}])."));
            }
        }

        if (errors.Count > 0)
        {
            return new IngestOutcome([], errors, IsConflict: false);
        }

        foreach (var p in parsed)
        {
            p.Trace.TeamId = teamId;
            if (extraTag is not null && !p.Trace.Tags.Contains(extraTag))
            {
                p.Trace.Tags.Add(extraTag);
            }

            foreach (var span in p.Trace.Spans)
            {
                span.TeamId = teamId;
            }
        }

        var result = await queue.EnqueueAsync(new StoreRequest(teamId, parsed), ct);
        if (result.IsConflict)
        {
            return new IngestOutcome([], result.Conflicts, IsConflict: true);
        }

        var createdIndexes = result.Traces.Where(s => s.Created).Select(s => s.Index).ToHashSet();
        var created = parsed.Where(p => createdIndexes.Contains(p.Index)).Select(p => p.Trace).ToList();
        if (created.Count > 0)
        {
            await liveBus.PublishAsync(new TracesIngested(
                teamId,
                created.Select(t => t.Id).ToList(),
                created.Take(TracesIngested.MaxSummaries).Select(Summarize).ToList()), CancellationToken.None);
        }

        return new IngestOutcome(result.Traces, [], IsConflict: false);
    }

    public static TraceSummary Summarize(Trace t) => new(
        t.Id, t.ExternalId, t.Name, t.Model, t.Provider, t.InputPreview, t.OutputPreview, t.LatencyMs, t.TotalTokens, t.Cost,
        t.Error, t.Tags, t.Environment, t.StartedAt, t.CreatedAt);
}
