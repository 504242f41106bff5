using MathNet.Numerics.Distributions;

namespace EvalPlatform.Core.Experiments.Statistics;

/// <summary>
/// The mixture sequential probability ratio test (mSPRT) with a normal mixture, for an estimate that is (asymptotically)
/// normal: Johari, Pekelis and Walsh, "Always Valid Inference: Continuous Monitoring of A/B Tests" (Operations
/// Research 70(3), 2022), section 3. With the estimate d of the effect θ, its variance V and the mixing distribution
/// θ ~ N(θ₀, τ²), the likelihood ratio against θ₀ is
/// Λ(θ₀) = √(V/(V + τ²)) · exp(τ²(d − θ₀)² / (2V(V + τ²))).
/// Λ(θ₀) is a non-negative martingale with mean 1 under θ = θ₀, so by Ville's inequality it exceeds 1/α at any look with
/// probability at most α: p = min(1, 1/Λ(0)) at a look is an always-valid p-value, and {θ₀ : Λ(θ₀) &lt; 1/α} an
/// always-valid confidence interval, d ± √(V(V + τ²)/τ² · (ln((V + τ²)/V) − 2 ln α)). The running minimum over earlier
/// looks would be smaller still; without the history the look's own value is reported, which is never smaller, so the
/// guarantee holds.
/// </summary>
public static class MixtureSequentialTest
{
    /// <summary>
    /// The mixing variance for an absolute effect <paramref name="plannedEffect"/> (the planned MDE on the metric's
    /// scale): τ² = δ² · (−2 ln α + ln(1 − 2 ln α)) / (z₁₋α/₂ + z_power)². The numerator is the mixing variance
    /// (in units of the estimate's variance) for which the normal-mixture boundary is tightest at a chosen time (Howard,
    /// Ramdas, McAuliffe and Sekhon, "Time-uniform, nonparametric, nonasymptotic confidence sequences", Ann. Statist.
    /// 2021, the normal mixture's tuning; GrowthBook's sequential testing documents the same ρ for its tuning parameter N*); the chosen time is the fixed-horizon sample
    /// size at which the planned effect is detected with the planned power, where the estimate's variance is
    /// δ²/(z₁₋α/₂ + z_power)². So τ ≈ δ at α = 0.05 and 80 % power (τ²/δ² = 7.936/7.849).
    /// </summary>
    public static double MixingVariance(double plannedEffect, double alpha, double power)
    {
        var zAlpha = Normal.InvCDF(0, 1, 1 - (alpha / 2));
        var zPower = Normal.InvCDF(0, 1, power);
        var logAlpha = Math.Log(alpha);
        return plannedEffect * plannedEffect * ((-2 * logAlpha) + Math.Log(1 - (2 * logAlpha))) / ((zAlpha + zPower) * (zAlpha + zPower));
    }

    /// <summary>The always-valid p-value min(1, 1/Λ(0)) for estimate <paramref name="estimate"/> with variance <paramref name="variance"/> &gt; 0.</summary>
    public static double PValue(double estimate, double variance, double mixingVariance)
    {
        var logLambda = (0.5 * Math.Log(variance / (variance + mixingVariance)))
            + (mixingVariance * estimate * estimate / (2 * variance * (variance + mixingVariance)));
        return Math.Min(1, Math.Exp(-logLambda));
    }

    /// <summary>The always-valid interval's half-width at level 1 − <paramref name="alpha"/>, for <paramref name="variance"/> &gt; 0.</summary>
    public static double HalfWidth(double variance, double mixingVariance, double alpha) =>
        Math.Sqrt(variance * (variance + mixingVariance) / mixingVariance
            * (Math.Log((variance + mixingVariance) / variance) - (2 * Math.Log(alpha))));
}
