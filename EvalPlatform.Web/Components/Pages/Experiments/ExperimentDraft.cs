using System.Globalization;
using EvalPlatform.Core.Experiments;

namespace EvalPlatform.Web.Components.Pages.Experiments;

/// <summary>One variant as the editor holds it (its config as the text being typed).</summary>
public sealed class VariantDraft
{
    public string Key { get; set; } = "";
    public string Name { get; set; } = "";
    public double Weight { get; set; }
    public string Config { get; set; } = "{}";
}

/// <summary>The editor's form: an experiment's definition as fields, to and from <see cref="ExperimentDefinition"/>.</summary>
public sealed class ExperimentDraft
{
    public string Key { get; set; } = "";
    public string Name { get; set; } = "";
    public string? Hypothesis { get; set; }
    public ExperimentUnit Unit { get; set; } = ExperimentUnit.UserId;
    public double Coverage { get; set; } = 1;
    public List<VariantDraft> Variants { get; set; } =
    [
        new() { Key = "control", Name = "Control", Weight = 0.5 },
        new() { Key = "treatment", Name = "Treatment", Weight = 0.5 },
    ];

    public ExperimentMetricType Primary { get; set; } = ExperimentMetricType.AcceptanceRate;
    public string? PrimaryScoreName { get; set; }
    public HashSet<ExperimentMetricType> Guardrails { get; set; } = [ExperimentMetricType.ErrorRate, ExperimentMetricType.Latency];
    public string? Environment { get; set; }
    public string? Model { get; set; }
    public string? Provider { get; set; }
    public string? Tag { get; set; }
    public double MinimumDetectableEffect { get; set; } = 0.05;
    public double SignificanceLevel { get; set; } = 0.05;

    /// <summary>The weights' total, for the message under the variants.</summary>
    public double TotalWeight => Variants.Sum(v => v.Weight);

    public bool WeightsAddUp => Math.Abs(TotalWeight - 1) <= ExperimentService.WeightTolerance;

    public string WeightMessage => WeightsAddUp
        ? "The weights add up to 1."
        : $"The weights must add up to 1; they add up to {TotalWeight.ToString("0.###", CultureInfo.InvariantCulture)}.";

    /// <summary>Adds a variant and shares the traffic equally among all of them.</summary>
    public void AddVariant()
    {
        var n = Variants.Count;
        Variants.Add(new VariantDraft { Key = $"variant-{n}", Name = $"Variant {n}" });
        SplitEqually();
    }

    public void RemoveVariant(VariantDraft variant)
    {
        if (Variants.Count > 2 && Variants.IndexOf(variant) > 0)
        {
            Variants.Remove(variant);
            SplitEqually();
        }
    }

    /// <summary>Equal weights to three places, the rounding put on the control so they add up to exactly 1.</summary>
    public void SplitEqually()
    {
        var share = Math.Round(1.0 / Variants.Count, 3);
        foreach (var v in Variants)
        {
            v.Weight = share;
        }

        Variants[0].Weight = Math.Round(1 - (share * (Variants.Count - 1)), 3);
    }

    public ExperimentDefinition ToDefinition() => new(
        Key, Name, Hypothesis, Unit, Coverage,
        Variants.Select(v => new ExperimentVariant(v.Key.Trim(), v.Name, v.Weight, v.Config)).ToList(),
        new ExperimentMetric(Primary, Primary == ExperimentMetricType.ScoreMean ? PrimaryScoreName?.Trim() : null),
        Guardrails.Where(g => g != Primary && g != ExperimentMetricType.ScoreMean).Order().Select(g => new ExperimentMetric(g)).ToList(),
        new ExperimentFilters(Environment, Model, Provider, Tag), MinimumDetectableEffect, SignificanceLevel);

    public static ExperimentDraft From(Experiment e)
    {
        ArgumentNullException.ThrowIfNull(e);
        var f = e.Filters;
        return new ExperimentDraft
        {
            Key = e.Key, Name = e.Name, Hypothesis = e.Hypothesis, Unit = e.Unit, Coverage = e.Coverage,
            Variants = e.Variants.Select(v => new VariantDraft { Key = v.Key, Name = v.Name, Weight = v.Weight, Config = v.Config }).ToList(),
            Primary = e.Primary.Type, PrimaryScoreName = e.Primary.ScoreName, Guardrails = [.. e.Guardrails.Select(g => g.Type)],
            Environment = f.Environment, Model = f.Model, Provider = f.Provider, Tag = f.Tag,
            MinimumDetectableEffect = e.MinimumDetectableEffect, SignificanceLevel = e.SignificanceLevel,
        };
    }
}

/// <summary>Words for experiments on the pages.</summary>
public static class ExperimentText
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    public static string Status(ExperimentStatus s) => ExperimentService.Wire(s);

    public static MudBlazor.Color StatusColor(ExperimentStatus s) => s switch
    {
        ExperimentStatus.Running => MudBlazor.Color.Success,
        ExperimentStatus.Paused => MudBlazor.Color.Warning,
        ExperimentStatus.Stopped => MudBlazor.Color.Default,
        _ => MudBlazor.Color.Info,
    };

    public static string Unit(ExperimentUnit u) => u switch
    {
        ExperimentUnit.UserId => "User id",
        ExperimentUnit.SessionId => "Session id",
        _ => "Trace",
    };

    public static string Metric(ExperimentMetricType t) => new ExperimentMetric(t, "…").Label;

    public static string Decision(Experiment e) => e.Decision switch
    {
        ExperimentDecision.Ship => $"Shipped {e.ShippedVariant}",
        ExperimentDecision.Rollback => "Rolled back",
        ExperimentDecision.Inconclusive => "Inconclusive",
        _ => "",
    };

    /// <summary>A metric's value as the page shows it: rates in percent, means to three significant places.</summary>
    public static string Value(ExperimentMetric metric, double? value)
    {
        ArgumentNullException.ThrowIfNull(metric);
        if (value is not { } v || !double.IsFinite(v))
        {
            return "–";
        }

        return metric.Kind == ExperimentMetricKind.Proportion
            ? (v * 100).ToString("0.0", Invariant) + " %"
            : metric.Type == ExperimentMetricType.CostPerTrace ? "$" + v.ToString("0.#####", Invariant) : v.ToString("0.###", Invariant);
    }

    public static string Interval(ExperimentMetric metric, double? low, double? high) =>
        low is null && high is null ? "" : $"[{Value(metric, low)}, {Value(metric, high)}]";

    public static string Percent(double? value) =>
        value is { } v && double.IsFinite(v) ? (v * 100).ToString("+0.0;-0.0;0.0", Invariant) + " %" : "–";

    public static string LiftInterval(double? low, double? high) =>
        low is null && high is null ? "" : $"[{Percent(low)}, {Percent(high)}]";

    public static string PValue(double? p) => p is { } x && double.IsFinite(x) ? (x < 0.0001 ? "< 0.0001" : x.ToString("0.0000", Invariant)) : "–";

    public static string Weights(Experiment e) => string.Join(" / ", e.Variants.Select(v => $"{v.Key} {v.Weight.ToString("0.###", Invariant)}"));
}
