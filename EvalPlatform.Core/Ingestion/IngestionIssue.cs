using EvalPlatform.Core.Tenancy;

namespace EvalPlatform.Core.Ingestion;

/// <summary>The way a trace came in, as the ingestion issue log names it.</summary>
public enum IngestionDoor
{
    /// <summary><c>POST /api/v1/traces</c> (and <c>PATCH</c>): one trace.</summary>
    Api,

    /// <summary><c>POST /api/v1/traces/batch</c> (the SDKs' path).</summary>
    Batch,

    /// <summary><c>POST /api/v1/webhooks/{source}</c>.</summary>
    Webhook,

    /// <summary><c>POST /v1/traces</c> (OTLP/HTTP).</summary>
    Otlp,

    /// <summary>The LangSmith-compatible API under <c>/api/langsmith</c>.</summary>
    LangSmith,

    /// <summary>The recording proxy under <c>/proxy</c>: one trace per model call.</summary>
    Proxy,

    /// <summary>The playground's saved results (<c>/playground</c>): one trace per model configuration's answer.</summary>
    Playground,
}

/// <summary>What ingestion did with something it could not take as sent.</summary>
public enum IngestionIssueKind
{
    /// <summary>The item (a run, a span, a trace) was not stored; the rest of its request was.</summary>
    Refused,

    /// <summary>The item was stored with a value changed (e.g. an end a few microseconds before its start); the original is kept on the span.</summary>
    Adjusted,
}

/// <summary>One refusal or adjustment as the ingestion path reports it (before it is counted into the log).</summary>
/// <param name="Kind">Refused (not stored) or adjusted (stored with a value changed).</param>
/// <param name="Field">The field at fault, without the item's position (e.g. <c>end_time</c>, <c>trace_id</c>).</param>
/// <param name="Reason">A sentence a person can act on.</param>
/// <param name="TraceKey">The client's trace id (external id), when known.</param>
/// <param name="SpanKey">The client's run or span id, when known.</param>
public sealed record IngestionIssueReport(IngestionIssueKind Kind, string Field, string Reason, string? TraceKey = null, string? SpanKey = null)
{
    /// <summary>The field of an error path without its item's prefix: <c>post[2].end_time</c> with prefix <c>post[2]</c> is <c>end_time</c>.</summary>
    public static string FieldOf(string path, string itemPath) =>
        itemPath.Length > 0 && path.StartsWith(itemPath, StringComparison.Ordinal)
            ? path[itemPath.Length..].TrimStart('.') is { Length: > 0 } rest ? rest : "$"
            : path;
}

/// <summary>
/// One line of a team's ingestion issue log: the same issue (door, kind, field, reason, trace and span)
/// within one hour is one row whose <see cref="Count"/> grows. Rows older than
/// <see cref="IngestionIssueLimits.Retention"/> are deleted.
/// </summary>
public sealed class IngestionIssue : ITeamOwned
{
    public Guid Id { get; set; }
    public Guid TeamId { get; set; }

    /// <summary>The start of the hour the row counts (UTC).</summary>
    public DateTimeOffset Hour { get; set; }

    public IngestionDoor Door { get; set; }
    public IngestionIssueKind Kind { get; set; }
    public required string Field { get; set; }
    public required string Reason { get; set; }
    public string? TraceKey { get; set; }
    public string? SpanKey { get; set; }

    /// <summary>A hash of door, kind, field, reason, trace and span: the row's identity within its team and hour.</summary>
    public required string GroupKey { get; set; }

    public int Count { get; set; }
    public DateTimeOffset FirstSeenAt { get; set; }
    public DateTimeOffset LastSeenAt { get; set; }
}

/// <summary>
/// Records refusals and adjustments without slowing ingestion: <see cref="Record"/> only counts into
/// a bounded buffer in memory, which a background writer flushes to the database about once a second.
/// </summary>
public interface IIngestionIssueLog
{
    /// <summary>Counts the issues for the team; never blocks and never throws (a full buffer drops and counts what it drops).</summary>
    void Record(Guid teamId, IngestionDoor door, IReadOnlyCollection<IngestionIssueReport> issues);

    /// <summary>Writes what this node has buffered (the API calls it before reading, so a client sees its own issues at once).</summary>
    Task FlushAsync(CancellationToken ct = default);
}

/// <summary>The bounds of the ingestion issue log; documented in docs/api.md.</summary>
public static class IngestionIssueLimits
{
    /// <summary>How long a row is kept.</summary>
    public static readonly TimeSpan Retention = TimeSpan.FromDays(7);

    /// <summary>The longest field name kept.</summary>
    public const int MaxField = 200;

    /// <summary>The longest reason kept (longer ones are cut).</summary>
    public const int MaxReason = 1_000;

    /// <summary>
    /// Distinct rows one team may add in one hour; past it, further issues of that hour are counted in a
    /// row without trace and span ids, so a flood of refusals cannot grow the table without bound.
    /// </summary>
    public const int MaxRowsPerTeamHour = 1_000;

    /// <summary>Distinct issues one node buffers between flushes; past it, issues are dropped and the drop is logged.</summary>
    public const int MaxBuffered = 10_000;
}
