using System.Text.Json;
using EvalPlatform.Core.Common;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Ingestion;
using EvalPlatform.Core.Live;
using EvalPlatform.Core.Scores;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using Microsoft.EntityFrameworkCore;

namespace EvalPlatform.Core.Traces;

/// <summary>Thrown with every problem of a request body, each naming its field.</summary>
public sealed class InputValidationException(IReadOnlyList<FieldError> errors)
    : Exception(errors.Count == 1 ? $"{errors[0].Field}: {errors[0].Message}" : $"{errors.Count} fields are invalid.")
{
    public IReadOnlyList<FieldError> Errors { get; } = errors;
}

/// <summary>
/// Changes to stored traces from code: completing a trace sent at its start (PATCH), and
/// attaching named scores. Each change is announced on the live bus.
/// </summary>
public sealed class TraceUpdates(IEvalDbContextFactory dbFactory, ITeamContext team, ILiveBus liveBus, IIngestionIssueLog issueLog, TimeProvider clock)
{
    private static readonly HashSet<string> PatchFields =
        ["end_time", "response", "usage", "cost", "latency_ms", "time_to_first_token_ms", "error", "metadata"];

    private static readonly HashSet<string> ScoreFields = ["name", "value", "data_type", "span_id", "comment"];

    public async Task<TraceDetail> CompleteAsync(Guid id, JsonElement body, CancellationToken ct = default)
    {
        var teamId = Require(Permission.IngestTraces, "Completing traces needs an API key with the 'ingest' scope.");
        var errors = new List<FieldError>();
        if (body.ValueKind != JsonValueKind.Object)
        {
            throw new InputValidationException([new FieldError("$", "The body must be a JSON object.")]);
        }

        StorableText.RejectNul(body, "", errors);
        var f = new JsonFields(body, "", errors);
        f.RejectUnknown(PatchFields, "PATCH takes end_time, response, usage, cost, latency_ms, time_to_first_token_ms, error, metadata.");
        if (!body.EnumerateObject().Any())
        {
            errors.Add(new FieldError("$", "Nothing to change: send at least one of " + string.Join(", ", PatchFields) + "."));
        }

        var end = f.Time("end_time");
        var response = f.String("response", IngestionLimits.MaxLongText);
        var cost = f.NonNegativeDecimal("cost");
        var latency = f.NonNegativeNumber("latency_ms");
        var ttft = f.NonNegativeNumber("time_to_first_token_ms");
        var error = f.String("error", IngestionLimits.MaxErrorText);
        var metadata = f.Object("metadata") is null ? null : f.Json("metadata", 256 * 1024);
        int? prompt = null, completion = null, total = null;
        if (f.Object("usage") is { } usage)
        {
            var u = new JsonFields(usage, "usage", errors);
            u.RejectUnknown(new HashSet<string> { "prompt_tokens", "completion_tokens", "total_tokens" }, "Usage takes prompt_tokens, completion_tokens, total_tokens.");
            prompt = u.NonNegativeInt("prompt_tokens");
            completion = u.NonNegativeInt("completion_tokens");
            total = u.NonNegativeInt("total_tokens");
        }

        await using var db = await dbFactory.CreateAsync(ct);
        var trace = await db.Traces.SingleOrDefaultAsync(t => t.Id == id, ct) ?? throw new NotFoundException($"No trace {id} in this team.");
        // The rule of every door (ADR 12): up to a second before the start is stored as zero length, the original kept.
        var adjustments = new List<IngestionIssueReport>();
        if (end is { } e && e < trace.StartedAt)
        {
            if (EndTimes.Refusal(trace.StartedAt, e) is { } refusal)
            {
                errors.Add(new FieldError("end_time", $"{refusal} (The trace starts at {trace.StartedAt:O}.)"));
            }
            else
            {
                // A retry of the same end finds it kept already: nothing changes, nothing is counted twice.
                var retried = metadata is null && trace.EndedAt == trace.StartedAt && EndTimes.IsKeptOriginal(trace.Metadata, e);
                (metadata, var reason) = EndTimes.KeepOriginal(metadata ?? trace.Metadata, e, trace.StartedAt - e, "trace", "metadata key");
                if (!retried)
                {
                    adjustments.Add(new IngestionIssueReport(IngestionIssueKind.Adjusted, "end_time", reason, trace.ExternalId));
                }

                end = trace.StartedAt;
            }
        }

        if (errors.Count > 0)
        {
            issueLog.Record(teamId, IngestionDoor.Api, errors.Select(x => new IngestionIssueReport(IngestionIssueKind.Refused, x.Field, x.Message, trace.ExternalId)).ToList());
            throw new InputValidationException(errors);
        }

        var llm = await db.Spans.Where(s => s.TraceId == id && s.Kind == SpanKind.Llm).OrderBy(s => s.Position).FirstOrDefaultAsync(ct);
        trace.EndedAt = end ?? trace.EndedAt;
        trace.LatencyMs = latency ?? (end is not null ? (end.Value - trace.StartedAt).TotalMilliseconds : trace.LatencyMs);
        trace.TimeToFirstTokenMs = ttft ?? trace.TimeToFirstTokenMs;
        trace.Error = error ?? trace.Error;
        trace.Metadata = metadata ?? trace.Metadata;
        trace.PromptTokens = prompt ?? trace.PromptTokens;
        trace.CompletionTokens = completion ?? trace.CompletionTokens;
        trace.TotalTokens = total ?? (prompt is not null || completion is not null ? (trace.PromptTokens ?? 0) + (trace.CompletionTokens ?? 0) : trace.TotalTokens);
        if (cost is not null)
        {
            trace.Cost = cost;
            trace.CostComputed = false;
        }
        else if (trace.Cost is null || trace.CostComputed)
        {
            trace.Cost = ModelPrices.Compute(trace.Model, trace.PromptTokens, trace.CompletionTokens);
            trace.CostComputed = trace.Cost is not null;
        }

        if (response is not null)
        {
            trace.OutputPreview = TraceParser.Preview(response);
            trace.SearchText = TraceParser.SearchText(trace.SearchText, response);
            if (llm is null)
            {
                var count = await db.Spans.CountAsync(s => s.TraceId == id, ct);
                llm = new Span
                {
                    Id = Uuid7.Create(clock.GetUtcNow()), TeamId = teamId, TraceId = id, Kind = SpanKind.Llm,
                    Name = trace.Model ?? trace.Name ?? "generation", Model = trace.Model, StartedAt = trace.StartedAt, Position = count,
                };
                db.Spans.Add(llm);
            }

            llm.Output = JsonSerializer.Serialize(new { role = "assistant", content = response });
        }

        if (llm is not null)
        {
            llm.EndedAt = trace.EndedAt;
            llm.DurationMs = trace.LatencyMs;
            llm.Error = trace.Error;
        }

        trace.UpdatedAt = clock.GetUtcNow();
        await db.SaveChangesAsync(ct);
        issueLog.Record(teamId, IngestionDoor.Api, adjustments);
        await liveBus.PublishAsync(new TraceUpdated(teamId, id), CancellationToken.None);
        var spans = await db.Spans.AsNoTracking().Where(s => s.TraceId == id).OrderBy(s => s.Position).ToListAsync(ct);
        var scores = await db.Scores.AsNoTracking().Where(s => s.TraceId == id).ToListAsync(ct);
        return new TraceDetail(trace, spans, scores);
    }

    /// <summary>Attaches one score object, or <c>{"scores": [...]}</c>, to the trace (or one of its spans).</summary>
    public Task<IReadOnlyList<Score>> AddScoresAsync(Guid traceId, JsonElement body, CancellationToken ct = default) =>
        AddScoresAsync(traceId, body, ScoreSource.Api, ct);

    /// <summary>As the scores API, with the scores' source given (<see cref="ScoreSource.LangSmith"/> for LangSmith feedback).</summary>
    public async Task<IReadOnlyList<Score>> AddScoresAsync(Guid traceId, JsonElement body, ScoreSource source, CancellationToken ct = default)
    {
        var teamId = Require(Permission.IngestTraces, "Scoring traces from code needs an API key with the 'ingest' scope.");
        var errors = new List<FieldError>();
        List<(JsonElement Item, string Path)> items;
        if (body.ValueKind == JsonValueKind.Object && body.TryGetProperty("scores", out var array))
        {
            if (array.ValueKind != JsonValueKind.Array || array.GetArrayLength() == 0)
            {
                throw new InputValidationException([new FieldError("scores", "Must be a non-empty array of scores.")]);
            }

            items = array.EnumerateArray().Select((e, i) => (e, $"scores[{i}]")).ToList();
        }
        else
        {
            items = [(body, "")];
        }

        await using var db = await dbFactory.CreateAsync(ct);
        var trace = await db.Traces.SingleOrDefaultAsync(t => t.Id == traceId, ct) ?? throw new NotFoundException($"No trace {traceId} in this team.");

        var spanIds = await db.Spans.Where(s => s.TraceId == traceId).Select(s => s.Id).ToListAsync(ct);
        var now = clock.GetUtcNow();
        var scores = new List<Score>();
        foreach (var (item, path) in items)
        {
            if (item.ValueKind != JsonValueKind.Object)
            {
                errors.Add(new FieldError(path.Length == 0 ? "$" : path, "A score must be an object with name and value."));
                continue;
            }

            StorableText.RejectNul(item, path, errors);
            var f = new JsonFields(item, path, errors);
            f.RejectUnknown(ScoreFields, "A score takes name, value, data_type, span_id, comment.");
            var score = new Score
            {
                Id = Uuid7.Create(now), TeamId = teamId, TraceId = traceId,
                Name = f.String("name", IngestionLimits.MaxShortText, required: true) ?? "",
                Comment = f.String("comment", IngestionLimits.MaxErrorText),
                Source = source,
                Author = team.ApiKeyId is { } key ? $"api-key:{key}" : team.UserId,
                CreatedAt = now,
            };
            ReadValue(f, item, score);
            if (f.String("span_id", 64) is { } spanText)
            {
                if (!Guid.TryParse(spanText, out var spanId) || !spanIds.Contains(spanId))
                {
                    f.Error("span_id", "No span with that id in this trace.");
                }
                else
                {
                    score.SpanId = spanId;
                }
            }

            scores.Add(score);
        }

        if (errors.Count > 0)
        {
            throw new InputValidationException(errors);
        }

        db.Scores.AddRange(scores);
        // Touched in the scores' transaction: the metrics rollup finds changes by UpdatedAt (ADR 17).
        trace.UpdatedAt = now;
        await db.SaveChangesAsync(ct);
        await liveBus.PublishAsync(new TraceUpdated(teamId, traceId), CancellationToken.None);
        return scores;
    }

    private static void ReadValue(JsonFields f, JsonElement item, Score score)
    {
        var declared = f.String("data_type", 20)?.ToLowerInvariant();
        if (declared is not (null or "numeric" or "categorical" or "boolean"))
        {
            f.Error("data_type", "Must be numeric, categorical or boolean.");
            return;
        }

        if (!item.TryGetProperty("value", out var value) || value.ValueKind == JsonValueKind.Null)
        {
            f.Error("value", "Required: a number, a string (category) or a boolean.");
            return;
        }

        switch (value.ValueKind)
        {
            case JsonValueKind.Number when declared is null or "numeric":
                score.DataType = ScoreDataType.Numeric;
                score.NumericValue = f.FiniteNumber("value");
                break;
            case JsonValueKind.True or JsonValueKind.False when declared is null or "boolean":
                score.DataType = ScoreDataType.Boolean;
                score.NumericValue = value.GetBoolean() ? 1 : 0;
                score.StringValue = value.GetBoolean() ? "true" : "false";
                break;
            case JsonValueKind.Number when declared == "boolean" && value.TryGetDouble(out var b) && b is 0 or 1:
                score.DataType = ScoreDataType.Boolean;
                score.NumericValue = b;
                score.StringValue = b == 1 ? "true" : "false";
                break;
            case JsonValueKind.String when declared is null or "categorical":
                score.DataType = ScoreDataType.Categorical;
                score.StringValue = f.String("value", IngestionLimits.MaxShortText, required: true);
                break;
            default:
                f.Error("value", declared is null
                    ? "Must be a number, a string (category) or a boolean."
                    : $"Does not fit data_type '{declared}'.");
                break;
        }
    }

    private Guid Require(Permission permission, string message)
    {
        if (!team.Can(permission) || team.TeamId is not { } teamId)
        {
            throw new PermissionDeniedException(message);
        }

        return teamId;
    }
}
