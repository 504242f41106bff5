using System.Text.Json;
using EvalPlatform.Core.Common;
using EvalPlatform.Core.Playground;
using EvalPlatform.Core.Queues;
using EvalPlatform.Core.Teams;
using EvalPlatform.Web.Auth;
using EvalPlatform.Web.Ingestion;
using Microsoft.AspNetCore.Http.HttpResults;

namespace EvalPlatform.Web.Endpoints;

/// <summary>
/// Playground batches (ADR 44): a prompt run server-side over a review queue's traces or a trace-list filter's, with 1–4
/// configurations, each trace's variables filled from the trace; started with an <c>admin</c> key (UsePlayground), its
/// comparison read with a <c>read</c> key. Progress and cancel are the batch run's (<c>/api/v1/batch-runs/{id}</c>).
/// </summary>
public static class PlaygroundEndpoints
{
    private const long MaxBodyBytes = 1024 * 1024;

    private static readonly string[] Fields = ["system", "messages", "variables", "configs", "source"];

    public sealed record BatchStartedResponse(Guid BatchRunId);

    public sealed record ConfigResponse(Guid ConnectionId, string Model, double? Temperature, int? MaxTokens);

    public sealed record ResultResponse(
        int Configuration, string? Model, string Text, string? Error, int? ErrorStatus, int? InputTokens, int? OutputTokens, decimal? Cost, double LatencyMs);

    /// <summary>The original trace as stored (null fields when it is gone): its name, model, input and output previews.</summary>
    public sealed record OriginalResponse(bool Exists, string? Name, string? Model, string? Input, string? Output);

    public sealed record RowResponse(int Position, Guid TraceId, OriginalResponse Original, IReadOnlyList<ResultResponse> Results);

    public sealed record ResultsResponse(
        BatchRunEndpoints.BatchRunResponse BatchRun, IReadOnlyList<ConfigResponse> Configs, IReadOnlyList<RowResponse> Items, string? NextCursor);

    public static RouteGroupBuilder MapPlaygroundEndpoints(this RouteGroupBuilder api)
    {
        var batches = api.MapGroup("/playground/batches").WithTags("Playground");
        batches.MapPost("/", StartAsync).RequirePermission(Permission.UsePlayground).Accepts<JsonElement>("application/json")
            .WithName("StartPlaygroundBatch")
            .WithSummary("Run a prompt {system?, messages, variables?, configs: [1–4 {connection_id, model, temperature?, max_tokens?}], source: {queue_id} | {filter}} over each trace; 202 with the batch run's id");
        batches.MapGet("/{id:guid}/results", ResultsAsync).RequirePermission(Permission.ViewTraces)
            .WithName("GetPlaygroundBatchResults").WithSummary("A batch's comparison, paged by original trace: each configuration's answer beside the original's");
        return batches;
    }

    private static async Task<Accepted<BatchStartedResponse>> StartAsync(HttpRequest request, PlaygroundBatchService service, CancellationToken ct)
    {
        using var body = await JsonBody.ReadAsync(request, MaxBodyBytes, ct);
        var (prompt, configs, source) = Parse(body.RootElement);
        var runId = await service.StartAsync(prompt, configs, source, ct);
        return TypedResults.Accepted($"/api/v1/batch-runs/{runId}", new BatchStartedResponse(runId));
    }

    private static async Task<Ok<ResultsResponse>> ResultsAsync(
        Guid id, string? cursor, int? limit, PlaygroundBatchService service, Core.Batches.BatchRuns runs, CancellationToken ct)
    {
        var page = await service.ResultsAsync(id, cursor, limit ?? 50, ct);
        var run = await runs.GetAsync(id, ct);
        return TypedResults.Ok(new ResultsResponse(
            BatchRunEndpoints.Of(run),
            page.Configs.Select(c => new ConfigResponse(c.ConnectionId, c.Model, c.Temperature, c.MaxTokens)).ToList(),
            page.Rows.Select(r => new RowResponse(r.Position, r.TraceId, new OriginalResponse(r.TraceExists, r.TraceName, r.OriginalModel, r.OriginalInput, r.OriginalOutput),
                r.Results.Select(x => new ResultResponse(x.Configuration, x.Model, x.Text, x.Error, x.ErrorStatus, x.InputTokens, x.OutputTokens, x.Cost, x.LatencyMs)).ToList())).ToList(),
            page.NextCursor));
    }

    private static (PlaygroundPrompt Prompt, IReadOnlyList<PlaygroundConfig> Configs, PlaygroundBatchSource Source) Parse(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new DomainValidationException("messages", "A playground batch is a JSON object.");
        }

        foreach (var p in root.EnumerateObject())
        {
            if (!Fields.Contains(p.Name))
            {
                throw new DomainValidationException(p.Name, $"Unknown field: a playground batch takes {string.Join(", ", Fields)}.");
            }
        }

        var messages = new List<PlaygroundMessage>();
        if (root.TryGetProperty("messages", out var m) && m.ValueKind != JsonValueKind.Null)
        {
            if (m.ValueKind != JsonValueKind.Array)
            {
                throw new DomainValidationException("messages", "A list of {role, content}.");
            }

            var i = 0;
            foreach (var item in m.EnumerateArray())
            {
                if (item.ValueKind != JsonValueKind.Object)
                {
                    throw new DomainValidationException($"messages[{i}]", "A message is {role, content}.");
                }

                messages.Add(new PlaygroundMessage(String(item, "role", $"messages[{i}].") ?? "", String(item, "content", $"messages[{i}].") ?? ""));
                i++;
            }
        }

        Dictionary<string, string>? variables = null;
        if (root.TryGetProperty("variables", out var v) && v.ValueKind != JsonValueKind.Null)
        {
            if (v.ValueKind != JsonValueKind.Object)
            {
                throw new DomainValidationException("variables", "An object of name: text (defaults for what a trace does not give).");
            }

            variables = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var p in v.EnumerateObject())
            {
                variables[p.Name] = p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString()! : throw new DomainValidationException($"variables.{p.Name}", "Must be a string.");
            }
        }

        var configs = new List<PlaygroundConfig>();
        if (!root.TryGetProperty("configs", out var c) || c.ValueKind != JsonValueKind.Array)
        {
            throw new DomainValidationException("configs", "Required: a list of 1 to 4 {connection_id, model, temperature?, max_tokens?}.");
        }

        var n = 0;
        foreach (var item in c.EnumerateArray())
        {
            var prefix = $"configs[{n}].";
            if (item.ValueKind != JsonValueKind.Object)
            {
                throw new DomainValidationException($"configs[{n}]", "A configuration is {connection_id, model, temperature?, max_tokens?}.");
            }

            var connection = item.TryGetProperty("connection_id", out var id) && id.ValueKind == JsonValueKind.String && Guid.TryParse(id.GetString(), out var g)
                ? g
                : throw new DomainValidationException(prefix + "connection_id", "Required: one of the team's provider connections.");
            double? temperature = item.TryGetProperty("temperature", out var t) && t.ValueKind != JsonValueKind.Null
                ? (t.ValueKind == JsonValueKind.Number ? t.GetDouble() : throw new DomainValidationException(prefix + "temperature", "A number from 0 to 2."))
                : null;
            int? maxTokens = item.TryGetProperty("max_tokens", out var mt) && mt.ValueKind != JsonValueKind.Null
                ? (mt.ValueKind == JsonValueKind.Number && mt.TryGetInt32(out var mti) ? mti : throw new DomainValidationException(prefix + "max_tokens", "A whole number."))
                : null;
            configs.Add(new PlaygroundConfig(connection, String(item, "model", prefix) ?? "", temperature, maxTokens));
            n++;
        }

        if (!root.TryGetProperty("source", out var s) || s.ValueKind != JsonValueKind.Object)
        {
            throw new DomainValidationException("source", "Required: {\"queue_id\": \"...\"} or {\"filter\": {...}} (the trace list's filter).");
        }

        Guid? queueId = null;
        if (s.TryGetProperty("queue_id", out var q) && q.ValueKind != JsonValueKind.Null)
        {
            queueId = q.ValueKind == JsonValueKind.String && Guid.TryParse(q.GetString(), out var qg) ? qg : throw new DomainValidationException("source.queue_id", "Must be an id.");
        }

        Core.Traces.TraceFilter? filter = null;
        if (s.TryGetProperty("filter", out var f) && f.ValueKind != JsonValueKind.Null)
        {
            try
            {
                filter = f.ValueKind == JsonValueKind.Object ? QueueFilterJson.Read(f.GetRawText()) : throw new JsonException();
            }
            catch (JsonException)
            {
                throw new DomainValidationException("source.filter", "The trace list's filter: an object with its parameter names (model, tag, status, …).");
            }
        }

        return (new PlaygroundPrompt(String(root, "system", ""), messages, variables), configs, new PlaygroundBatchSource(queueId, filter));
    }

    private static string? String(JsonElement root, string name, string prefix) =>
        !root.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null ? null
        : v.ValueKind == JsonValueKind.String ? v.GetString() : throw new DomainValidationException(prefix + name, "Must be a string.");
}
