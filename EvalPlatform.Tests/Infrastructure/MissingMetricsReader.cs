using EvalPlatform.Core.Analytics;

namespace EvalPlatform.Tests.Infrastructure;

/// <summary>
/// TEMPORARY (jobs branch only; drop this file and its one registration in <see cref="EvalAppFactory"/> once the metrics
/// branch, which registers the real <see cref="IMetricsReader"/>, is merged). The shared analytics commit registers
/// <see cref="AnalyticsService"/> without a reader, so the Development host's ValidateOnBuild refuses to start every test host
/// of a branch that lacks the metrics feature. Registered only when no reader is, so it never replaces the real one.
/// </summary>
internal sealed class MissingMetricsReader : IMetricsReader
{
    public Task<IReadOnlyList<MetricCell>> ReadAsync(AnalyticsQuery query, CancellationToken ct = default) =>
        throw new NotSupportedException("This build has no metrics reader (the metrics feature is not merged).");
}
