namespace EvalPlatform.Core.Ingestion;

/// <summary>One problem with submitted input, by its JSON path (e.g. <c>traces[2].spans[0].parent_id</c>).</summary>
public sealed record FieldError(string Field, string Message);

/// <summary>The limits of what one trace may carry; documented in docs/api.md.</summary>
public static class IngestionLimits
{
    public const int MaxJsonDepth = 64;
    public const int MaxShortText = 200;
    public const int MaxName = 500;
    public const int MaxTags = 50;
    public const int MaxTagLength = 100;
    public const int MaxErrorText = 10_000;
    public const int MaxLongText = 1_000_000;
    public const int MaxSpans = 1_000;
    public const int MaxMessages = 1_000;
    public const int MaxBatchTraces = 1_000;
    public const long MaxBatchBytes = 10 * 1024 * 1024;
    public const long MaxSingleBytes = 5 * 1024 * 1024;
    public const int PreviewLength = 300;
    public const int SearchTextLength = 8_000;
}
