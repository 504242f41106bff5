using System.Runtime.InteropServices;
using System.Text.Json;
using EvalPlatform.Core.Common;
using EvalPlatform.Core.Live;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Core.Traces;

namespace EvalPlatform.Core.Ingestion;

/// <summary>What became of one submitted trace.</summary>
public enum ItemStatus
{
    /// <summary>Stored now.</summary>
    Created,

    /// <summary>Already stored with the same content (a retry, or a repeat earlier in the same batch): nothing stored twice.</summary>
    Existing,

    /// <summary>Not stored: invalid, or refused by the database; <see cref="ItemOutcome.Errors"/> say why.</summary>
    Skipped,

    /// <summary>Not stored: a different trace with the same external id is stored, or comes earlier in the same batch.</summary>
    Conflict,
}

/// <summary>
/// One submitted trace's fate, by its position in the request. <see cref="Id"/> is the stored trace's id
/// (<see cref="ItemStatus.Created"/>, <see cref="ItemStatus.Existing"/>); <see cref="Errors"/> name the fields at
/// fault by their full path (<c>traces[3].spans[0].end_time</c>); <see cref="Adjustments"/> the values stored
/// other than as sent.
/// </summary>
public sealed record ItemOutcome(
    int Index, Guid? Id, string? ExternalId, ItemStatus Status, IReadOnlyList<FieldError> Errors, IReadOnlyList<FieldError> Adjustments)
{
    public bool IsStored => Status is ItemStatus.Created or ItemStatus.Existing;
}

/// <summary>The outcome of an ingestion request: each item's fate, in request order.</summary>
public sealed record IngestOutcome(IReadOnlyList<ItemOutcome> Items)
{
    /// <summary>At least one item is stored (now or before): the request is answered 2xx.</summary>
    public bool AnyStored => Items.Any(i => i.IsStored);

    /// <summary>Nothing is stored and every item is a conflict: 409 rather than 400.</summary>
    public bool AllConflicts => Items.All(i => i.Status == ItemStatus.Conflict);

    /// <summary>Every item's errors, in order.</summary>
    public IReadOnlyList<FieldError> Errors => Items.SelectMany(i => i.Errors).ToList();
}

/// <summary>
/// The front door: validates and normalises submitted traces for the current team (from the
/// API key or a signed webhook), stores them through the group-commit queue, then announces them on the live bus.
/// Each trace stands alone (ADR 13): one that is invalid, conflicts or cannot be stored is skipped with its
/// reasons and the others are stored; an end up to a second before its start is adjusted (<see cref="EndTimes"/>).
/// Skips, conflicts and adjustments are counted in the team's ingestion issue log.
/// </summary>
public sealed class TraceIngestionService(ITeamContext team, IngestionQueue queue, ILiveBus liveBus, IIngestionIssueLog issueLog, TimeProvider clock)
{
    /// <summary>One trace (POST /traces). Paths in errors are the trace's own fields.</summary>
    public Task<IngestOutcome> IngestOneAsync(JsonElement trace, CancellationToken ct = default) =>
        IngestAsync([trace], arrayPath: null, extraTag: null, IngestionDoor.Api, ct);

    /// <summary>A batch (POST /traces/batch): every valid trace stored, the others skipped; paths are <c>traces[i].field</c>.</summary>
    public Task<IngestOutcome> IngestBatchAsync(IReadOnlyList<JsonElement> traces, CancellationToken ct = default) =>
        IngestAsync(traces, arrayPath: "traces", extraTag: null, IngestionDoor.Batch, ct);

    /// <summary>
    /// A signed webhook delivery (POST /webhooks/{source}): one trace (paths as for one trace) or a
    /// top-level array, each item on its own as in a batch (paths <c>[i].field</c>). Each stored trace carries
    /// <paramref name="tag"/> besides the sender's own tags (it does not count against their limit).
    /// </summary>
    public Task<IngestOutcome> IngestWebhookAsync(IReadOnlyList<JsonElement> traces, bool isArray, string tag, CancellationToken ct = default) =>
        IngestAsync(traces, arrayPath: isArray ? "" : null, extraTag: tag, IngestionDoor.Webhook, ct);

    /// <summary>
    /// The traces the recording proxy made of model calls, recorded together (each item on its own as in a batch, paths
    /// <c>[i].field</c>; issues under the proxy door).
    /// </summary>
    public Task<IngestOutcome> IngestProxyAsync(IReadOnlyList<JsonElement> traces, CancellationToken ct = default) =>
        IngestAsync(traces, arrayPath: "", extraTag: null, IngestionDoor.Proxy, ct);

    /// <summary>
    /// The playground's results saved as traces by a member who may use it (<see cref="Permission.UsePlayground"/>, not an
    /// ingest key): each item on its own as in a batch, every stored trace tagged <c>playground</c>, issues under its door.
    /// </summary>
    public Task<IngestOutcome> IngestPlaygroundAsync(IReadOnlyList<JsonElement> traces, CancellationToken ct = default) =>
        IngestAsync(traces, arrayPath: "", extraTag: PlaygroundTag, IngestionDoor.Playground, ct, Permission.UsePlayground);

    /// <summary>The tag every trace saved from the playground carries.</summary>
    public const string PlaygroundTag = "playground";

    // arrayPath: null for one trace, else the JSON path of the array the items came from ("" for a top-level array).
    private async Task<IngestOutcome> IngestAsync(
        IReadOnlyList<JsonElement> items, string? arrayPath, string? extraTag, IngestionDoor door, CancellationToken ct,
        Permission required = Permission.IngestTraces)
    {
        if (!team.Can(required) || team.TeamId is not { } teamId)
        {
            throw new PermissionDeniedException(required == Permission.IngestTraces
                ? "Sending traces needs an API key with the 'ingest' scope."
                : $"Saving these traces needs the {required} permission.");
        }

        var now = clock.GetUtcNow();
        var outcomes = new ItemOutcome?[items.Count];
        var parsed = new List<ParsedTrace>(items.Count);
        for (var i = 0; i < items.Count; i++)
        {
            var errors = new List<FieldError>();
            if (TraceParser.Parse(items[i], PathOf(i), i, now, errors) is { } p)
            {
                parsed.Add(p);
            }
            else
            {
                outcomes[i] = new ItemOutcome(i, null, RawExternalId(items[i]), ItemStatus.Skipped, errors, []);
            }
        }

        var parsedByIndex = parsed.ToDictionary(p => p.Index);

        // A repeat of an external id inside the request: the same content is the same trace (answered with the
        // first one's fate), other content is a conflict. Only the first goes to the store.
        var firstOf = new Dictionary<int, ParsedTrace>();
        var toStore = new List<ParsedTrace>(parsed.Count);
        var seen = new Dictionary<string, ParsedTrace>(StringComparer.Ordinal);
        foreach (var p in parsed)
        {
            if (p.Trace.ExternalId is not { } externalId || seen.TryAdd(externalId, p))
            {
                toStore.Add(p);
                continue;
            }

            var first = seen[externalId];
            if (first.Trace.ContentHash.AsSpan().SequenceEqual(p.Trace.ContentHash))
            {
                firstOf[p.Index] = first;
            }
            else
            {
                outcomes[p.Index] = new ItemOutcome(p.Index, null, externalId, ItemStatus.Conflict,
                    [new FieldError(FieldPath(p.Index, "external_id"), $"Another trace with external_id '{externalId}' and different content comes first in this request (at {PathOf(first.Index)}).")],
                    []);
            }
        }

        foreach (var p in toStore)
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

        var created = new List<Trace>();
        if (toStore.Count > 0)
        {
            // The queue's byte bound and team share are measured on the JSON as sent (a view of the parsed document, no copy).
            var bytes = toStore.Sum(p => (long)JsonMarshal.GetRawUtf8Value(items[p.Index]).Length);
            var result = await queue.EnqueueAsync(new StoreRequest(teamId, toStore, bytes), ct);
            foreach (var stored in result.Traces)
            {
                var p = parsedByIndex[stored.Index];
                outcomes[stored.Index] = new ItemOutcome(stored.Index, stored.Id, stored.ExternalId,
                    stored.Created ? ItemStatus.Created : ItemStatus.Existing, [], Adjusted(p));
                if (stored.Created)
                {
                    created.Add(p.Trace);
                }
            }

            foreach (var refused in result.Refused)
            {
                outcomes[refused.Index] = new ItemOutcome(refused.Index, null, refused.ExternalId,
                    refused.IsConflict ? ItemStatus.Conflict : ItemStatus.Skipped,
                    [new FieldError(refused.IsConflict ? FieldPath(refused.Index, "external_id") : PathOf(refused.Index) is { Length: > 0 } path ? path : "$", refused.Message)],
                    []);
            }
        }

        foreach (var (index, first) in firstOf)
        {
            var fate = outcomes[first.Index]!;
            outcomes[index] = fate.IsStored
                ? new ItemOutcome(index, fate.Id, fate.ExternalId, ItemStatus.Existing, [], Adjusted(parsedByIndex[index]))
                : new ItemOutcome(index, null, fate.ExternalId, fate.Status,
                    [new FieldError(FieldPath(index, "external_id"), $"The same trace as {PathOf(first.Index)}, which was not stored (see its errors).")], []);
        }

        var answer = new IngestOutcome(outcomes.Select(o => o!).ToList());
        if (answer.Items.Any(i => i.Errors.Count > 0 || i.Adjustments.Count > 0))
        {
            issueLog.Record(teamId, door, Issues(answer));
        }

        if (created.Count > 0)
        {
            await liveBus.PublishAsync(new TracesIngested(
                teamId,
                created.Select(t => t.Id).ToList(),
                created.Take(TracesIngested.MaxSummaries).Select(Summarize).ToList()), CancellationToken.None);
        }

        return answer;

        string PathOf(int i) => arrayPath is null ? "" : $"{arrayPath}[{i}]";

        string FieldPath(int i, string field) => PathOf(i) is { Length: > 0 } item ? $"{item}.{field}" : field;

        IReadOnlyList<FieldError> Adjusted(ParsedTrace p) => p.Adjustments.Select(a => new FieldError(a.Field, a.Reason)).ToList();

        // Skips and conflicts, one issue per error; adjustments of traces stored now (a retry's were counted the first time).
        List<IngestionIssueReport> Issues(IngestOutcome outcome)
        {
            var issues = new List<IngestionIssueReport>();
            foreach (var item in outcome.Items)
            {
                var itemPath = PathOf(item.Index);
                issues.AddRange(item.Errors.Select(e => new IngestionIssueReport(
                    IngestionIssueKind.Refused, IngestionIssueReport.FieldOf(e.Field, itemPath), e.Message, item.ExternalId)));
                if (item.Status == ItemStatus.Created && parsedByIndex.TryGetValue(item.Index, out var p))
                {
                    issues.AddRange(p.Adjustments.Select(a => new IngestionIssueReport(
                        IngestionIssueKind.Adjusted, IngestionIssueReport.FieldOf(a.Field, itemPath), a.Reason, item.ExternalId, a.SpanKey)));
                }
            }

            return issues;
        }
    }

    /// <summary>The external id of an item that could not be read, when it has a usable one (for the issue log and the answer).</summary>
    private static string? RawExternalId(JsonElement item) =>
        item.ValueKind == JsonValueKind.Object && item.TryGetProperty("external_id", out var id) && id.ValueKind == JsonValueKind.String
        && id.GetString() is { Length: > 0 and <= IngestionLimits.MaxShortText } value
            ? value
            : null;

    public static TraceSummary Summarize(Trace t) => new(
        t.Id, t.ExternalId, t.Name, t.Model, t.Provider, t.InputPreview, t.OutputPreview, t.LatencyMs, t.TotalTokens, t.Cost,
        t.Error, t.Tags, t.Environment, t.StartedAt, t.CreatedAt);
}
