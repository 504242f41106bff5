using System.ComponentModel.DataAnnotations;

namespace EvalPlatform.Core.LangSmith.Connector;

/// <summary>The <c>LangSmithImport</c> section: how the connector reads LangSmith.</summary>
public sealed class LangSmithImportOptions
{
    public const string SectionName = "LangSmithImport";

    /// <summary>Runs per <c>/runs/query</c> page (LangSmith allows 100).</summary>
    [Range(1, LangSmithClient.MaxPageSize)]
    public int PageSize { get; set; } = LangSmithClient.MaxPageSize;

    /// <summary>
    /// An incremental sync starts this far before the newest run start already seen, so a run that started earlier but
    /// reached LangSmith later (a long run, a batch sent late) is still picked up; runs already stored are skipped.
    /// </summary>
    [Range(0, 1_440)]
    public int OverlapMinutes { get; set; } = 60;

    /// <summary>Tries per LangSmith call before the sync stops with the error (429s and 5xx are tried again).</summary>
    [Range(1, 20)]
    public int MaxAttempts { get; set; } = 6;

    /// <summary>The first wait after a 5xx or a network failure; it doubles each time (capped at a minute).</summary>
    [Range(0.001, 60)]
    public double BackoffSeconds { get; set; } = 2;

    /// <summary>The longest <c>Retry-After</c> waited in place; a longer one ends the sync, which the next run resumes.</summary>
    [Range(1, 3_600)]
    public int MaxRetryAfterSeconds { get; set; } = 120;
}
