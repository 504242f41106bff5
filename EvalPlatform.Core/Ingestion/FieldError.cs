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

    /// <summary>
    /// How far an end may lie before its start and still be stored (as a zero-length span, the original kept):
    /// SDKs give starts microseconds and ends milliseconds, and clocks skew; further apart, the item is refused.
    /// </summary>
    public static readonly TimeSpan MaxEndBeforeStart = TimeSpan.FromSeconds(1);
}
