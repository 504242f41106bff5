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
}

public enum SpanKind
{
    Other = 0,
    Llm = 1,
    Tool = 2,
    Retrieval = 3,
    Chain = 4,
}
