using System.Globalization;
using EvalPlatform.Core.Analytics.Statistics;
using EvalPlatform.Core.Common;
using MathNet.Numerics;
using MathNet.Numerics.Distributions;

namespace EvalPlatform.Core.Experiments.Statistics;

/// <summary>
/// The experiments' statistics (ADR 28). Per variant: the value with its interval (Wald for proportions, t with n − 1 df
/// for means). Per treatment against the control: the absolute lift with its interval (unpooled Wald for proportions,
/// Welch's t with Welch–Satterthwaite df for means), the relative lift with its interval by the delta method, and the
/// p-value (pooled two-proportion z-test, or Welch's t-test); Holm's step-down adjustment across the treatments when
/// there are more than two variants. Sequential requests replace the fixed-horizon p-values and lift intervals by the
/// always-valid ones of <see cref="MixtureSequentialTest"/>. Pure: no I/O, no clock.
/// </summary>
public sealed class ExperimentStatistics : IExperimentStatistics
{
    /// <summary>SRM p-values below this are a mismatch (GrowthBook, Statsig and Eppo use the same).</summary>
    public const double SampleRatioMismatchThreshold = 0.001;

    /// <summary>The power the sequential mixture is tuned for (the planned MDE is detected with it at the fixed-horizon size).</summary>
    public const double PlannedPower = 0.8;

    public ExperimentAnalysisResult Analyze(ExperimentAnalysisRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        Validate(request);
        var samples = request.Samples;
        var control = Arm.From(request.Kind, samples[0]);
        var comparisons = new Comparison?[samples.Count];
        for (var i = 1; i < samples.Count; i++)
        {
            comparisons[i] = Compare(request, control, Arm.From(request.Kind, samples[i]));
        }

        var adjusted = samples.Count > 2
            ? Holm(comparisons.Select(c => c?.PValue).ToArray())
            : comparisons.Select(c => c?.PValue).ToArray();

        var variants = new List<VariantResult>(samples.Count);
        for (var i = 0; i < samples.Count; i++)
        {
            var sample = samples[i];
            var arm = i == 0 ? control : Arm.From(request.Kind, sample);
            var (low, high) = ValueInterval(request.Kind, arm, request.Alpha);
            var c = comparisons[i];
            variants.Add(new VariantResult(
                sample.Key, sample.Units, sample.Traces, sample.Count, arm.Mean, low, high,
                c?.AbsoluteLift, c?.AbsoluteLow, c?.AbsoluteHigh,
                c?.Lift, c?.LiftLow, c?.LiftHigh,
                c?.PValue, adjusted[i], adjusted[i] is { } p && p < request.Alpha));
        }

        var srm = TestSampleRatio(samples.Select(s => s.Units).ToList(), samples.Select(s => s.Weight).ToList());
        return new ExperimentAnalysisResult(variants, srm, Describe(request));
    }

    public SampleRatioMismatch TestSampleRatio(IReadOnlyList<long> observedUnits, IReadOnlyList<double> weights)
    {
        ArgumentNullException.ThrowIfNull(observedUnits);
        ArgumentNullException.ThrowIfNull(weights);
        if (observedUnits.Count != weights.Count)
        {
            throw new DomainValidationException("weights", "Give one weight per variant.");
        }

        for (var i = 0; i < weights.Count; i++)
        {
            if (observedUnits[i] < 0)
            {
                throw new DomainValidationException($"samples[{i}].units", "Units cannot be negative.");
            }

            if (!double.IsFinite(weights[i]) || weights[i] < 0)
            {
                throw new DomainValidationException($"samples[{i}].weight", "A weight is a finite number of at least 0.");
            }
        }

        // A variant weighted 0 expects no units; the test compares the others against their weights (a variant turned
        // off while running keeps its sticky units, which are no evidence of a broken split).
        var included = Enumerable.Range(0, weights.Count).Where(i => weights[i] > 0).ToList();
        var degreesOfFreedom = Math.Max(0, included.Count - 1);
        var total = included.Sum(i => (double)observedUnits[i]);
        if (included.Count < 2 || total <= 0)
        {
            return new SampleRatioMismatch(0, degreesOfFreedom, 1, false);
        }

        var weightSum = included.Sum(i => weights[i]);
        var chiSquare = included.Sum(i =>
        {
            var expected = total * weights[i] / weightSum;
            var deviation = observedUnits[i] - expected;
            return deviation * deviation / expected;
        });

        // The upper tail directly (1 − CDF loses every digit below 1e-16).
        var p = SpecialFunctions.GammaUpperRegularized(degreesOfFreedom / 2.0, chiSquare / 2);
        return new SampleRatioMismatch(chiSquare, degreesOfFreedom, p, p < SampleRatioMismatchThreshold);
    }

    public long SampleSizePerVariant(
        ExperimentMetricKind kind,
        double baselineMean,
        double? baselineStandardDeviation,
        double minimumDetectableEffect,
        double alpha = 0.05,
        double power = 0.8)
    {
        ValidateAlpha(alpha);
        if (!(power > 0 && power < 1))
        {
            throw new DomainValidationException("power", "Power is between 0 and 1.");
        }

        ValidateMinimumDetectableEffect(minimumDetectableEffect);
        var zAlpha = Normal.InvCDF(0, 1, 1 - (alpha / 2));
        var zPower = Normal.InvCDF(0, 1, power);
        double n;
        if (kind == ExperimentMetricKind.Proportion)
        {
            if (!(baselineMean > 0 && baselineMean < 1))
            {
                throw new DomainValidationException("baselineMean", "A baseline rate is between 0 and 1.");
            }

            var p1 = baselineMean;
            var p2 = baselineMean * (1 + minimumDetectableEffect);
            if (p2 >= 1)
            {
                throw new DomainValidationException("minimumDetectableEffect", "The baseline rate raised by the effect must stay below 100 %.");
            }

            // Fleiss, Levin and Paik, Statistical Methods for Rates and Proportions (3rd ed., 2003), eq. 4.14 without the
            // continuity correction: the null's pooled variance beside z₁₋α/₂, the alternative's beside z_power.
            var mean = (p1 + p2) / 2;
            var root = (zAlpha * Math.Sqrt(2 * mean * (1 - mean))) + (zPower * Math.Sqrt((p1 * (1 - p1)) + (p2 * (1 - p2))));
            n = root * root / ((p2 - p1) * (p2 - p1));
        }
        else
        {
            if (baselineStandardDeviation is not { } sd || !double.IsFinite(sd) || sd <= 0)
            {
                throw new DomainValidationException("baselineStandardDeviation", "A mean needs the baseline's standard deviation (above 0).");
            }

            if (!double.IsFinite(baselineMean) || baselineMean == 0)
            {
                throw new DomainValidationException("baselineMean", "A relative effect needs a baseline mean other than 0.");
            }

            var delta = minimumDetectableEffect * Math.Abs(baselineMean);
            n = 2 * (zAlpha + zPower) * (zAlpha + zPower) * sd * sd / (delta * delta);
        }

        // Round up, but not past a whole number that rounding error nudged up by a hair.
        return (long)Math.Ceiling(n - 1e-9);
    }

    /// <summary>
    /// Holm's step-down adjustment: sort the m p-values ascending, p₍ⱼ₎ becomes max over k ≤ j of min(1, (m − k + 1)p₍ₖ₎).
    /// Missing p-values (a treatment with too little data) are no test and do not count in m.
    /// </summary>
    public static double?[] Holm(IReadOnlyList<double?> pValues)
    {
        ArgumentNullException.ThrowIfNull(pValues);
        var order = Enumerable.Range(0, pValues.Count).Where(i => pValues[i] is not null).OrderBy(i => pValues[i]!.Value).ToList();
        var adjusted = new double?[pValues.Count];
        var running = 0.0;
        for (var k = 0; k < order.Count; k++)
        {
            running = Math.Max(running, Math.Min(1, (order.Count - k) * pValues[order[k]]!.Value));
            adjusted[order[k]] = running;
        }

        return adjusted;
    }

    private static (double? Low, double? High) ValueInterval(ExperimentMetricKind kind, Arm arm, double alpha)
    {
        if (arm.Mean is not { } mean || arm.Variance is not { } variance)
        {
            return (null, null);
        }

        var halfWidth = Critical(alpha, kind == ExperimentMetricKind.Proportion ? null : arm.Count - 1) * Math.Sqrt(variance / arm.Count);
        // A Wald interval may cross 0 or 1 near the edges; a rate's interval is shown within them.
        return kind == ExperimentMetricKind.Proportion
            ? (Math.Max(0, mean - halfWidth), Math.Min(1, mean + halfWidth))
            : (mean - halfWidth, mean + halfWidth);
    }

    private static Comparison? Compare(ExperimentAnalysisRequest request, Arm control, Arm treatment)
    {
        if (control.Mean is not { } mc || treatment.Mean is not { } mt)
        {
            return null;
        }

        var difference = mt - mc;
        double? lift = mc != 0 ? (mt / mc) - 1 : null;
        if (control.Variance is not { } vc || treatment.Variance is not { } vt)
        {
            // One observation of a mean: the point estimates but no spread, so no interval and no test.
            return new Comparison(difference, null, null, lift, null, null, null);
        }

        var seC = vc / control.Count;
        var seT = vt / treatment.Count;
        var variance = seC + seT;
        var alpha = request.Alpha;

        double? degreesOfFreedom = null;
        double pValue;
        double testVariance;
        if (request.Kind == ExperimentMetricKind.Proportion)
        {
            // Pooled under the null; 1 when both arms are all 0 or all 1.
            var test = TwoProportionTest.Test((long)Math.Round(control.Sum), control.Count, (long)Math.Round(treatment.Sum), treatment.Count)!;
            pValue = test.PValue;
            var pooled = (control.Sum + treatment.Sum) / (control.Count + treatment.Count);
            testVariance = pooled * (1 - pooled) * ((1.0 / control.Count) + (1.0 / treatment.Count));
        }
        else if (variance > 0)
        {
            var test = WelchTest.Test(new SampleMoments(control.Count, mc, vc), new SampleMoments(treatment.Count, mt, vt))!;
            pValue = test.PValue;
            degreesOfFreedom = test.DegreesOfFreedom;
            testVariance = variance;
        }
        else
        {
            // No spread on either side: the difference is exact; no difference (p = 1) or a certain one (p = 0).
            pValue = difference == 0 ? 1 : 0;
            testVariance = 0;
        }

        var critical = Critical(alpha, degreesOfFreedom);
        var absoluteHalf = critical * Math.Sqrt(variance);
        var (absoluteLow, absoluteHigh) = (difference - absoluteHalf, difference + absoluteHalf);

        // Delta method for mt/mc − 1: Var ≈ Var(mt)/mc² + mt²·Var(mc)/mc⁴ (the arms are independent).
        var relativeVariance = (seT / (mc * mc)) + (mt * mt * seC / (mc * mc * mc * mc));
        double? liftLow = null, liftHigh = null;
        if (lift is { } r)
        {
            var relativeHalf = critical * Math.Sqrt(relativeVariance);
            (liftLow, liftHigh) = (r - relativeHalf, r + relativeHalf);
        }

        if (request.Sequential && EffectScale(request.Kind, control, treatment) is var scale && scale > 0)
        {
            var tau2 = MixtureSequentialTest.MixingVariance(request.MinimumDetectableEffect * scale, alpha, PlannedPower);
            // Never below the fixed-horizon answer: the mixture's normal approximation is weakest where t's heavy tails
            // matter (small samples), and a sequential answer must not claim more than a single look may.
            if (testVariance > 0)
            {
                pValue = Math.Max(pValue, MixtureSequentialTest.PValue(difference, testVariance, tau2));
            }

            if (variance > 0)
            {
                var half = MixtureSequentialTest.HalfWidth(variance, tau2, alpha);
                (absoluteLow, absoluteHigh) = (Math.Min(absoluteLow, difference - half), Math.Max(absoluteHigh, difference + half));
            }

            if (lift is { } rl && relativeVariance > 0)
            {
                // On the relative scale the planned effect is the MDE itself.
                var relativeTau2 = MixtureSequentialTest.MixingVariance(request.MinimumDetectableEffect, alpha, PlannedPower);
                var relativeHalf = MixtureSequentialTest.HalfWidth(relativeVariance, relativeTau2, alpha);
                (liftLow, liftHigh) = (Math.Min(liftLow!.Value, rl - relativeHalf), Math.Max(liftHigh!.Value, rl + relativeHalf));
            }
        }

        return new Comparison(difference, absoluteLow, absoluteHigh, lift, liftLow, liftHigh, pValue);
    }

    /// <summary>
    /// The metric's scale that the relative MDE applies to: the control's mean, or the pooled mean when the control's is 0,
    /// or (a mean metric centred on 0) the pooled standard deviation, so the MDE reads as a standardised effect.
    /// </summary>
    private static double EffectScale(ExperimentMetricKind kind, Arm control, Arm treatment)
    {
        if (control.Mean is { } mc && mc != 0)
        {
            return Math.Abs(mc);
        }

        var count = control.Count + treatment.Count;
        var pooledMean = (control.Sum + treatment.Sum) / count;
        if (pooledMean != 0)
        {
            return Math.Abs(pooledMean);
        }

        if (kind == ExperimentMetricKind.Mean && count > 1)
        {
            var sumOfSquares = control.SumOfSquares + treatment.SumOfSquares;
            return Math.Sqrt(Math.Max(0, sumOfSquares / count));
        }

        return 0;
    }

    /// <summary>z₁₋α/₂, or Student's t quantile with <paramref name="degreesOfFreedom"/>.</summary>
    private static double Critical(double alpha, double? degreesOfFreedom) => degreesOfFreedom is { } df
        ? StudentT.InvCDF(0, 1, df, 1 - (alpha / 2))
        : Normal.InvCDF(0, 1, 1 - (alpha / 2));

    private static string Describe(ExperimentAnalysisRequest request)
    {
        var inv = CultureInfo.InvariantCulture;
        var test = request.Kind == ExperimentMetricKind.Proportion
            ? "pooled two-proportion z-test, Wald intervals (unpooled)"
            : "Welch's t-test (Welch–Satterthwaite df), t intervals";
        var horizon = request.Sequential
            ? string.Format(inv, "Sequential, safe to peek: always-valid p-values and lift intervals by the mSPRT with a normal mixture tuned to the {0:0.##} % MDE at {1:0} % power ({2})", request.MinimumDetectableEffect * 100, PlannedPower * 100, test)
            : string.Format(inv, "Fixed horizon: {0}", test);
        var holm = request.Samples.Count > 2
            ? string.Format(inv, "; Holm across {0} treatments", request.Samples.Count - 1)
            : string.Empty;
        return string.Format(inv, "{0}; relative lift by the delta method{1}; α = {2:0.###}; SRM by chi-square, mismatch at p < {3:0.###}", horizon, holm, request.Alpha, SampleRatioMismatchThreshold);
    }

    private static void Validate(ExperimentAnalysisRequest request)
    {
        if (request.Samples is null || request.Samples.Count == 0)
        {
            throw new DomainValidationException("samples", "At least one variant (the control) is needed.");
        }

        ValidateAlpha(request.Alpha);
        ValidateMinimumDetectableEffect(request.MinimumDetectableEffect);
        for (var i = 0; i < request.Samples.Count; i++)
        {
            var s = request.Samples[i];
            if (s.Count < 0 || s.Units < 0 || s.Traces < 0)
            {
                throw new DomainValidationException($"samples[{i}].count", "Counts cannot be negative.");
            }

            if (!double.IsFinite(s.Sum) || !double.IsFinite(s.SumOfSquares) || s.SumOfSquares < 0)
            {
                throw new DomainValidationException($"samples[{i}].sum", "Sums are finite and the sum of squares is at least 0.");
            }

            if (request.Kind == ExperimentMetricKind.Proportion && (s.Sum < 0 || s.Sum > s.Count))
            {
                throw new DomainValidationException($"samples[{i}].sum", "A rate's successes are between 0 and its count.");
            }
        }
    }

    private static void ValidateAlpha(double alpha)
    {
        if (!(alpha > 0 && alpha < 1))
        {
            throw new DomainValidationException("alpha", "The significance level is between 0 and 1.");
        }
    }

    private static void ValidateMinimumDetectableEffect(double minimumDetectableEffect)
    {
        if (!(minimumDetectableEffect > 0) || !double.IsFinite(minimumDetectableEffect))
        {
            throw new DomainValidationException("minimumDetectableEffect", "The minimum detectable effect is above 0.");
        }
    }

    /// <summary>One arm's summary: the mean (null without observations) and the variance of one observation (null when unknown).</summary>
    private readonly record struct Arm(long Count, double Sum, double SumOfSquares, double? Mean, double? Variance)
    {
        public static Arm From(ExperimentMetricKind kind, VariantSample sample)
        {
            if (sample.Count == 0)
            {
                return new Arm(0, 0, 0, null, null);
            }

            var mean = sample.Sum / sample.Count;
            double? variance = kind == ExperimentMetricKind.Proportion
                ? mean * (1 - mean)
                : SampleMoments.FromSums(sample.Count, sample.Sum, sample.SumOfSquares)?.Variance;
            return new Arm(sample.Count, sample.Sum, sample.SumOfSquares, mean, variance);
        }
    }

    private sealed record Comparison(
        double AbsoluteLift,
        double? AbsoluteLow,
        double? AbsoluteHigh,
        double? Lift,
        double? LiftLow,
        double? LiftHigh,
        double? PValue);
}
