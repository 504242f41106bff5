using MathNet.Numerics.Distributions;

namespace EvalPlatform.Core.Analytics.Statistics;

/// <summary>
/// A straight-line fit y = <see cref="Intercept"/> + <see cref="Slope"/>·x with the slope's standard error and its
/// two-sided confidence interval (Student's t with <see cref="DegreesOfFreedom"/> = n − 2).
/// </summary>
public sealed record SlopeEstimate(
    double Slope, double Intercept, double StandardError, double Low, double High, int DegreesOfFreedom, double ResidualStandardDeviation)
{
    /// <summary>True when the interval lies wholly above or below zero.</summary>
    public bool ExcludesZero => Low > 0 || High < 0;

    /// <summary>The slope over its standard error (infinite for a perfect fit with a non-zero slope).</summary>
    public double T => StandardError == 0 ? (Slope == 0 ? 0 : double.PositiveInfinity * Math.Sign(Slope)) : Slope / StandardError;

    /// <summary>The two-sided p-value of "the slope is zero".</summary>
    public double PValue => double.IsInfinity(T) ? 0 : 2 * StudentT.CDF(0, 1, DegreesOfFreedom, -Math.Abs(T));

    public double Fitted(double x) => Intercept + (Slope * x);
}

/// <summary>Ordinary and weighted least squares for one predictor.</summary>
public static class LeastSquares
{
    /// <summary>
    /// Fits y on x. With <paramref name="weights"/> (precision weights: a point resting on more observations counts
    /// more; only their ratios matter) the fit minimises Σw(y − a − bx)², the residual variance is Σw·r²/(n − 2)
    /// and SE(b)² = s²/Σw(x − x̄)², so equal weights give the unweighted answer. Null with fewer than 3 points,
    /// when x does not vary, or when the weights are not all positive and finite.
    /// </summary>
    public static SlopeEstimate? Fit(IReadOnlyList<double> x, IReadOnlyList<double> y, IReadOnlyList<double>? weights = null, double confidence = 0.95)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        ArgumentOutOfRangeException.ThrowIfNotEqual(y.Count, x.Count);
        if (weights is not null)
        {
            ArgumentOutOfRangeException.ThrowIfNotEqual(weights.Count, x.Count);
        }

        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(confidence, 0);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(confidence, 1);
        var n = x.Count;
        if (n < 3)
        {
            return null;
        }

        // Two passes around the weighted means: the textbook sums (Σxy − n·x̄ȳ) lose digits on data like NIST's Norris.
        double sw = 0, swx = 0, swy = 0;
        for (var i = 0; i < n; i++)
        {
            var w = weights?[i] ?? 1;
            if (!(w > 0) || double.IsInfinity(w))
            {
                return null;
            }

            sw += w;
            swx += w * x[i];
            swy += w * y[i];
        }

        var meanX = swx / sw;
        var meanY = swy / sw;
        double sxx = 0, sxy = 0;
        for (var i = 0; i < n; i++)
        {
            var w = weights?[i] ?? 1;
            var dx = x[i] - meanX;
            sxx += w * dx * dx;
            sxy += w * dx * (y[i] - meanY);
        }

        if (sxx <= 0)
        {
            return null;
        }

        var slope = sxy / sxx;
        var intercept = meanY - (slope * meanX);
        double ssr = 0;
        for (var i = 0; i < n; i++)
        {
            var w = weights?[i] ?? 1;
            var r = y[i] - intercept - (slope * x[i]);
            ssr += w * r * r;
        }

        // Weights are relative: scale them so they average 1, so the residual SD is in y's own units.
        var df = n - 2;
        var residualVariance = ssr / df * (n / sw);
        var se = Math.Sqrt(ssr / df / sxx);
        var t = StudentT.InvCDF(0, 1, df, 1 - ((1 - confidence) / 2));
        return new SlopeEstimate(slope, intercept, se, slope - (t * se), slope + (t * se), df, Math.Sqrt(residualVariance));
    }
}
