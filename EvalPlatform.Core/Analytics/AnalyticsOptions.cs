using System.ComponentModel.DataAnnotations;

namespace EvalPlatform.Core.Analytics;

/// <summary>The <c>Analytics</c> section.</summary>
public sealed class AnalyticsOptions
{
    public const string SectionName = "Analytics";

    /// <summary>
    /// How far before the last run's watermark each run looks again for changed traces (seconds): a trace whose
    /// <c>UpdatedAt</c> was stamped before the watermark but committed after it (a slow group commit, a node's clock a
    /// little behind) is still seen. Recomputing is idempotent, so the overlap only costs work.
    /// </summary>
    [Range(0, 3600)]
    public int RollupOverlapSeconds { get; set; } = 60;

    /// <summary>
    /// How often (seconds) a run looks back over the overlap. A run sooner than this after the last one that did
    /// (the rollup called every second beside ingestion) reads only what changed since the watermark, and the next look
    /// back reaches this much further, so every late commit is still seen: the dashboard's live edge needs no faster
    /// rollup, and rereading the last minute of traffic each second cost ingestion a tenth of its rate. 0: every run.
    /// </summary>
    [Range(0, 3600)]
    public int RollupOverlapScanSeconds { get; set; } = 10;
}
