using EvalPlatform.Core.Traces;

namespace EvalPlatform.Core.Assembly;

/// <summary>
/// One span as a foreign format delivered it (an OTLP span, a LangSmith run), already mapped onto
/// the trace model. Spans of one trace may arrive in many requests, out of order, children before
/// parents; <see cref="TraceAssembler"/> merges them into one stored trace by <see cref="TraceKey"/>.
/// </summary>
/// <remarks>
/// Conventions the Chat, Functions and Metadata tabs read (see <c>ChatTranscript</c>):
/// an <see cref="SpanKind.Llm"/> span's <see cref="Input"/> is <c>{"messages":[…]}</c> in OpenAI chat
/// format (tool calls as <c>tool_calls[{id, type:"function", function:{name, arguments}}]</c>, tool
/// results as <c>role:"tool"</c> with <c>tool_call_id</c>) and its <see cref="Output"/> is the assistant
/// message object; a <see cref="SpanKind.Tool"/> span's input is the arguments and its output the
/// result, as JSON. Any other span: input and output as JSON (a string is a JSON string).
/// </remarks>
public sealed class SpanRecord
{
    /// <summary>The client's trace id (OTLP trace id in lower-case hex, LangSmith <c>trace_id</c>): stored as the trace's external id.</summary>
    public required string TraceKey { get; init; }

    /// <summary>The client's span id, unique within its trace (OTLP span id hex, LangSmith run id).</summary>
    public required string SpanKey { get; init; }

    /// <summary>The parent's <see cref="SpanKey"/>; the parent may arrive later, or never (then this span is a root).</summary>
    public string? ParentKey { get; init; }

    /// <summary>
    /// A partial update (a LangSmith PATCH): only the non-null fields change. An update for a span
    /// not yet seen creates a placeholder span that a later full record completes.
    /// </summary>
    public bool IsUpdate { get; init; }

    /// <summary>
    /// A create that must not overwrite an existing (non-placeholder) span with the same key: it is
    /// reported as <see cref="SpanOutcome.Duplicate"/> and not applied (LangSmith answers 409).
    /// </summary>
    public bool RejectIfExists { get; init; }

    /// <summary>Where this record came from in the request, for error paths (e.g. <c>resourceSpans[0].scopeSpans[1].spans[3]</c>).</summary>
    public string Path { get; init; } = "";

    public SpanKind? Kind { get; init; }
    public string? Name { get; init; }
    public DateTimeOffset? StartedAt { get; init; }
    public DateTimeOffset? EndedAt { get; init; }

    /// <summary>JSON text (see the remarks for what each kind carries).</summary>
    public string? Input { get; init; }

    /// <summary>JSON text.</summary>
    public string? Output { get; init; }

    /// <summary>
    /// JSON object text of every attribute not mapped to a field, unknown ones included (never dropped).
    /// On an update, its keys are merged into the stored object (a key's new value wins).
    /// </summary>
    public string? Attributes { get; init; }

    public string? Error { get; init; }
    public string? Model { get; init; }
    public string? Provider { get; init; }
    public int? PromptTokens { get; init; }
    public int? CompletionTokens { get; init; }

    /// <summary>Cost in USD as the client reported it; when null it is computed from the model price table.</summary>
    public decimal? Cost { get; init; }

    /// <summary>Trace-level facts this span carries (session, user, tags…); merged into the trace, later non-null values win, tags add up.</summary>
    public TraceHints? Trace { get; init; }
}

/// <summary>Trace-level fields a span may carry (OpenInference <c>session.id</c>, LangSmith <c>session_name</c>, Langfuse <c>langfuse.trace.*</c>…).</summary>
public sealed class TraceHints
{
    public string? Name { get; init; }
    public string? SessionId { get; init; }
    public string? UserId { get; init; }
    public string? Environment { get; init; }
    public string? Release { get; init; }
    public IReadOnlyList<string>? Tags { get; init; }
    public string? Experiment { get; init; }
    public string? Variant { get; init; }

    /// <summary>JSON object text; its keys are merged into the trace's metadata.</summary>
    public string? Metadata { get; init; }

    public double? TimeToFirstTokenMs { get; init; }
}

public enum SpanOutcome
{
    /// <summary>A new span was stored.</summary>
    Created,

    /// <summary>An existing span (or placeholder) was changed.</summary>
    Updated,

    /// <summary>The span was already stored exactly so (a retried export).</summary>
    Unchanged,

    /// <summary><see cref="SpanRecord.RejectIfExists"/> met an existing span: nothing applied.</summary>
    Duplicate,

    /// <summary>The record failed validation (see <see cref="AssemblyResult.Errors"/>): nothing applied.</summary>
    Rejected,
}

/// <summary>What became of one record, in request order.</summary>
public sealed record AssembledSpan(string TraceKey, string SpanKey, SpanOutcome Outcome, Guid? TraceId, Guid? SpanId);

/// <summary>
/// The outcome of one assembly call. Valid records are committed together (one transaction) before
/// this is returned; invalid ones are skipped and listed in <see cref="Errors"/> by their path
/// (OTLP reports them as a partial success; a format that wants all-or-none checks
/// <see cref="TraceAssembler.Validate"/> first).
/// </summary>
/// <param name="Spans">Each record's outcome, in request order.</param>
/// <param name="Errors">The refused records' problems, by their path in the request.</param>
/// <param name="Issues">The same refusals, and the adjustments made to stored spans, for the ingestion issue log.</param>
public sealed record AssemblyResult(IReadOnlyList<AssembledSpan> Spans, IReadOnlyList<Ingestion.FieldError> Errors, IReadOnlyList<Ingestion.IngestionIssueReport> Issues)
{
    public int Rejected => Spans.Count(s => s.Outcome == SpanOutcome.Rejected);
}
