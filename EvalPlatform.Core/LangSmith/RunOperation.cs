using System.Text.Json.Nodes;

namespace EvalPlatform.Core.LangSmith;

/// <summary>
/// One LangSmith run create (post) or update (patch) as a request delivered it, its large fields
/// (<c>inputs</c>, <c>outputs</c>, <c>events</c>…) already put back into <see cref="Run"/> when they
/// came as multipart parts of their own.
/// </summary>
/// <param name="IsPatch">An update: only the fields present change.</param>
/// <param name="Run">The run object (LangSmith's <c>RunCreate</c>/<c>RunUpdate</c> fields).</param>
/// <param name="Path">Where it was in the request, for errors: <c>post[2]</c>, <c>post.{id}</c>, or empty.</param>
/// <param name="RunId">The id the route or part name gave, when there was one (must match <c>id</c> in the body).</param>
public sealed record RunOperation(bool IsPatch, JsonObject Run, string Path, string? RunId = null)
{
    /// <summary>Files sent as <c>attachment.{run_id}.{name}</c> parts.</summary>
    public List<RunAttachment> Attachments { get; } = [];
}

/// <summary>
/// An attachment part: its name, MIME type and size are always recorded on the span; the bytes
/// only when at most <see cref="LangSmithLimits.MaxInlineAttachmentBytes"/> (see ADR 10).
/// </summary>
public sealed record RunAttachment(string Name, string ContentType, long Length, byte[]? Content);

/// <summary>A <c>feedback.{id}</c> part or a <c>POST /feedback</c> body, with where it came from.</summary>
public sealed record FeedbackOperation(JsonObject Feedback, string Path);

/// <summary>The LangSmith API's limits; advertised by <c>GET /info</c> and documented in docs/api.md.</summary>
public static class LangSmithLimits
{
    /// <summary>The most runs the SDK should put in one batch (advertised as <c>size_limit</c>).</summary>
    public const int BatchSizeLimit = 100;

    /// <summary>The largest batch the SDK should build (advertised as <c>size_limit_bytes</c>).</summary>
    public const long BatchSizeLimitBytes = 16 * 1024 * 1024;

    /// <summary>The largest request body accepted (a run larger than a batch is sent alone, so a margin above the advertised size).</summary>
    public const long MaxBodyBytes = 24 * 1024 * 1024;

    /// <summary>The largest single multipart part.</summary>
    public const long MaxPartBytes = 8 * 1024 * 1024;

    /// <summary>The most parts one multipart request may hold.</summary>
    public const int MaxParts = 5_000;

    /// <summary>The most run operations (posts and patches) one request may hold.</summary>
    public const int MaxRuns = 1_000;

    /// <summary>Attachments up to this size are stored (base64, in the span's attributes); larger ones are recorded by name, type and size only.</summary>
    public const int MaxInlineAttachmentBytes = 32 * 1024;
}
