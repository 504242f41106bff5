namespace EvalPlatform.Core.Experiments;

/// <summary>How a metric's observations are compared between variants.</summary>
public enum ExperimentMetricKind
{
    /// <summary>A rate of 0/1 observations (acceptance, error): two-proportion z-test.</summary>
    Proportion,

    /// <summary>A mean of real-valued observations (human score, a named score, latency, cost): Welch's t-test.</summary>
    Mean,
}

/// <summary>
/// One variant's sufficient statistics for one metric, as the results reader computes them from the traces that carry
/// the experiment and the variant. For <see cref="ExperimentMetricKind.Proportion"/> the observations are 0 or 1, so
/// <see cref="Sum"/> is the successes and <see cref="SumOfSquares"/> equals it.
/// </summary>
/// <param name="Key">The variant's key.</param>
/// <param name="Weight">The variant's weight as configured (for the sample ratio mismatch test).</param>
/// <param name="Units">Distinct unit ids among the variant's traces (the SRM test's observed count).</param>
/// <param name="Traces">The variant's traces.</param>
/// <param name="Count">Observations of the metric (e.g. reviewed traces for acceptance rate).</param>
/// <param name="Sum">Sum of the observations.</param>
/// <param name="SumOfSquares">Sum of the squared observations.</param>
public sealed record VariantSample(string Key, double Weight, long Units, long Traces, long Count, double Sum, double SumOfSquares);

/// <summary>What the analysis is asked: the first sample is the control.</summary>
/// <param name="Kind">How the metric is compared.</param>
/// <param name="Samples">Control first, then the treatments.</param>
/// <param name="Alpha">The significance level (0.05 by default).</param>
/// <param name="Sequential">True: always-valid (mSPRT) p-values and intervals, safe to peek; false: fixed-horizon.</param>
/// <param name="MinimumDetectableEffect">The planned relative MDE (0.05 = 5 %), for the mixture's scale and the power calculator.</param>
public sealed record ExperimentAnalysisRequest(
    ExperimentMetricKind Kind,
    IReadOnlyList<VariantSample> Samples,
    double Alpha = 0.05,
    bool Sequential = true,
    double MinimumDetectableEffect = 0.05);

/// <summary>One variant's result. Lift fields are null for the control and when either side has no observations.</summary>
public sealed record VariantResult(
    string Key,
    long Units,
    long Traces,
    long Count,
    double? Value,
    double? CiLow,
    double? CiHigh,
    double? AbsoluteLift,
    double? AbsoluteLiftCiLow,
    double? AbsoluteLiftCiHigh,
    double? Lift,
    double? LiftCiLow,
    double? LiftCiHigh,
    double? PValue,
    double? AdjustedPValue,
    bool Significant);

/// <summary>The sample ratio mismatch check: chi-square of observed units against the weights.</summary>
public sealed record SampleRatioMismatch(double ChiSquare, int DegreesOfFreedom, double PValue, bool Mismatch);

/// <summary>The analysis of one metric.</summary>
/// <param name="Variants">One result per variant, the control first.</param>
/// <param name="Srm">The sample ratio mismatch check of the units.</param>
/// <param name="Method">Says which tests and corrections were used, for the page ("mSPRT, pooled two-proportion z, Holm").</param>
public sealed record ExperimentAnalysisResult(
    IReadOnlyList<VariantResult> Variants,
    SampleRatioMismatch Srm,
    string Method);

/// <summary>The statistics of experiments, pure and deterministic (no I/O): one implementation, in Core.</summary>
public interface IExperimentStatistics
{
    /// <summary>Values with 95 % (1 − alpha) intervals, lifts against the control with intervals (delta method for the relative lift), p-values, Holm-adjusted when there are more than two variants, and the SRM check.</summary>
    ExperimentAnalysisResult Analyze(ExperimentAnalysisRequest request);

    /// <summary>Chi-square test of observed unit counts against the weights (p &lt; 0.001 is a mismatch).</summary>
    SampleRatioMismatch TestSampleRatio(IReadOnlyList<long> observedUnits, IReadOnlyList<double> weights);

    /// <summary>Observations needed per variant to detect a relative <paramref name="minimumDetectableEffect"/> on a baseline with the given power (fixed-horizon, two-sided).</summary>
    long SampleSizePerVariant(ExperimentMetricKind kind, double baselineMean, double? baselineStandardDeviation, double minimumDetectableEffect, double alpha = 0.05, double power = 0.8);
}
