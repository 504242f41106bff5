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
}
