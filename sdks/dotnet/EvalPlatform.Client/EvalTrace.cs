using System.Text.Json.Nodes;

namespace EvalPlatform.Client;

/// <summary>
/// One trace as the platform takes it (<c>POST /api/v1/traces</c>), written as snake_case JSON.
/// Use the simple shape (<see cref="SystemPrompt"/>, <see cref="UserInput"/>, <see cref="Response"/>,
/// <see cref="FunctionCalls"/>) or the full shape (<see cref="Messages"/>, <see cref="Spans"/>), not both.
/// <see cref="TraceBuilder"/> fills it fluently. The trace is serialized when it is enqueued, so
/// changing it afterwards changes nothing.
/// </summary>
public sealed class EvalTrace
{
    /// <summary>The idempotency key: a new UUID by default, so a retried batch never stores a trace twice.</summary>
    public string ExternalId { get; set; } = Guid.NewGuid().ToString();

    public string? Name { get; set; }

    public string? SessionId { get; set; }

    public string? UserId { get; set; }

    public string? Environment { get; set; }

    public string? Release { get; set; }

    public IList<string>? Tags { get; set; }

    public string? Model { get; set; }

    public string? Provider { get; set; }

    public EvalUsage? Usage { get; set; }

    /// <summary>In US dollars; without it the platform computes it from its price table when it knows the model.</summary>
    public decimal? Cost { get; set; }

    public double? LatencyMs { get; set; }

    public double? TimeToFirstTokenMs { get; set; }

    public DateTimeOffset? StartTime { get; set; }

    public DateTimeOffset? EndTime { get; set; }

    public string? Error { get; set; }

    public string? Experiment { get; set; }

    public string? Variant { get; set; }

    /// <summary>Free data, serialized as a JSON object (at most 256 KB).</summary>
    public IDictionary<string, object?>? Metadata { get; set; }

    // The simple shape.
    public string? SystemPrompt { get; set; }

    public string? UserInput { get; set; }

    public string? Response { get; set; }

    public IList<EvalFunctionCall>? FunctionCalls { get; set; }

    // The full shape.

    /// <summary>The conversation in the OpenAI chat format; a trailing assistant message is the response.</summary>
    public IList<JsonObject>? Messages { get; set; }

    public IList<EvalSpan>? Spans { get; set; }
}

/// <summary>Token counts; <c>total_tokens</c> defaults to their sum on the platform.</summary>
public sealed record EvalUsage(int? PromptTokens, int? CompletionTokens, int? TotalTokens = null);

/// <summary>A tool or function call of the simple shape.</summary>
public sealed class EvalFunctionCall
{
    public required string Name { get; set; }

    /// <summary>Any JSON-serializable value.</summary>
    public object? Parameters { get; set; }

    /// <summary>Any JSON-serializable value.</summary>
    public object? Result { get; set; }

    public double? ExecutionTimeMs { get; set; }

    public string? Error { get; set; }
}

/// <summary>A step of the full shape: <see cref="Kind"/> is <c>llm</c>, <c>tool</c>, <c>retrieval</c>, <c>chain</c> or <c>other</c>.</summary>
public sealed class EvalSpan
{
    /// <summary>The span's id inside this trace, for <see cref="ParentId"/> links.</summary>
    public string? Id { get; set; }

    public string? ParentId { get; set; }

    public string Kind { get; set; } = "other";

    public required string Name { get; set; }

    public DateTimeOffset? StartTime { get; set; }

    public DateTimeOffset? EndTime { get; set; }

    public double? DurationMs { get; set; }

    public object? Input { get; set; }

    public object? Output { get; set; }

    public IDictionary<string, object?>? Attributes { get; set; }

    public string? Error { get; set; }

    public string? Model { get; set; }
}
