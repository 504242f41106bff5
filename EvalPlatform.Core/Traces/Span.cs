using EvalPlatform.Core.Tenancy;

namespace EvalPlatform.Core.Traces;

/// <summary>One step of a trace: a generation, a tool call, a retrieval, a chain, or anything else.</summary>
public sealed class Span : ITeamOwned
{
    public Guid Id { get; set; }
    public Guid TeamId { get; set; }
    public Guid TraceId { get; set; }
    public Guid? ParentSpanId { get; set; }

    /// <summary>The client's id for this span (unique within its trace), used to link parents.</summary>
    public string? ExternalId { get; set; }

    public SpanKind Kind { get; set; }
    public required string Name { get; set; }

    /// <summary>Order within the trace as submitted; ties in start time keep it.</summary>
    public int Position { get; set; }

    public DateTimeOffset StartedAt { get; set; }
    public DateTimeOffset? EndedAt { get; set; }
    public double? DurationMs { get; set; }

    /// <summary>JSON text of the span's input (messages for a generation, parameters for a tool).</summary>
    public string? Input { get; set; }

    /// <summary>JSON text of the span's output.</summary>
    public string? Output { get; set; }

    /// <summary>JSON object text of every other attribute, unknown ones included.</summary>
    public string? Attributes { get; set; }

    public string? Error { get; set; }
    public string? Model { get; set; }

    // Set by trace assembly (OTLP, LangSmith), where spans arrive one request at a time and the
    // trace's totals are recomputed from its spans; native ingestion keeps them on the trace.

    /// <summary>The parent's <see cref="ExternalId"/> as sent, kept until (and after) the parent arrives.</summary>
    public string? ParentExternalId { get; set; }

    public string? Provider { get; set; }
    public int? PromptTokens { get; set; }
    public int? CompletionTokens { get; set; }
    public decimal? Cost { get; set; }

    /// <summary>Made by an update for a span not yet seen (a LangSmith patch before its post); a later full record completes it.</summary>
    public bool Placeholder { get; set; }
}

public enum SpanKind
{
    Other = 0,
    Llm = 1,
    Tool = 2,
    Retrieval = 3,
    Chain = 4,
}
