namespace EvalPlatform.Core.Traces;

/// <summary>
/// List prices (USD per million tokens) used when a client sends usage but no cost. The longest
/// matching model-name prefix wins, so dated variants (gpt-4o-2024-08-06) find their family.
/// A model not listed gets no computed cost rather than a guessed one. A team's own prices
/// (<see cref="ModelPriceOverride"/>, Settings → Providers) come before the list: the longest
/// matching override wins, and the list is only consulted when none matches.
/// </summary>
public static class ModelPrices
{
    private static readonly (string Prefix, decimal Input, decimal Output)[] Table =
    [
        ("gpt-4o-mini", 0.15m, 0.60m),
        ("gpt-4o", 2.50m, 10.00m),
        ("gpt-4.1-nano", 0.10m, 0.40m),
        ("gpt-4.1-mini", 0.40m, 1.60m),
        ("gpt-4.1", 2.00m, 8.00m),
        ("gpt-4-turbo", 10.00m, 30.00m),
        ("gpt-4", 30.00m, 60.00m),
        ("gpt-3.5-turbo", 0.50m, 1.50m),
        ("o1-mini", 1.10m, 4.40m),
        ("o1", 15.00m, 60.00m),
        ("o3-mini", 1.10m, 4.40m),
        ("o3", 2.00m, 8.00m),
        ("o4-mini", 1.10m, 4.40m),
        ("claude-3-5-haiku", 0.80m, 4.00m),
        ("claude-3-5-sonnet", 3.00m, 15.00m),
        ("claude-3-7-sonnet", 3.00m, 15.00m),
        ("claude-3-haiku", 0.25m, 1.25m),
        ("claude-3-opus", 15.00m, 75.00m),
        ("claude-sonnet-4", 3.00m, 15.00m),
        ("claude-opus-4", 15.00m, 75.00m),
        ("claude-haiku-4", 1.00m, 5.00m),
        ("gemini-1.5-flash", 0.075m, 0.30m),
        ("gemini-1.5-pro", 1.25m, 5.00m),
        ("gemini-2.0-flash", 0.10m, 0.40m),
    ];

    public static decimal? Compute(string? model, int? promptTokens, int? completionTokens) =>
        Compute(model, promptTokens, completionTokens, overrides: null);

    /// <summary>The cost with a team's overrides (prefixes lower-case) consulted before the built-in list.</summary>
    public static decimal? Compute(string? model, int? promptTokens, int? completionTokens, IReadOnlyList<ModelPriceOverride>? overrides)
    {
        if (string.IsNullOrEmpty(model) || (promptTokens is null && completionTokens is null))
        {
            return null;
        }

        var name = model.Trim().ToLowerInvariant();
        var slash = name.LastIndexOf('/');
        if (slash >= 0)
        {
            name = name[(slash + 1)..];
        }

        var own = overrides?.Where(p => name.StartsWith(p.Prefix, StringComparison.Ordinal)).OrderByDescending(p => p.Prefix.Length).FirstOrDefault();
        if (own is not null)
        {
            return Price(own.InputPerMillion, own.OutputPerMillion, promptTokens, completionTokens);
        }

        var match = Table.Where(p => name.StartsWith(p.Prefix, StringComparison.Ordinal)).OrderByDescending(p => p.Prefix.Length).FirstOrDefault();
        if (match.Prefix is null)
        {
            return null;
        }

        return Price(match.Input, match.Output, promptTokens, completionTokens);
    }

    /// <summary>The built-in list, for showing beside a team's own prices.</summary>
    public static IReadOnlyList<ModelPriceOverride> BuiltIn { get; } = Table.Select(p => new ModelPriceOverride(p.Prefix, p.Input, p.Output)).ToList();

    private static decimal Price(decimal inputPerMillion, decimal outputPerMillion, int? promptTokens, int? completionTokens) =>
        Math.Round(((promptTokens ?? 0) * inputPerMillion + (completionTokens ?? 0) * outputPerMillion) / 1_000_000m, 8);
}

/// <summary>A team's price for models starting with <paramref name="Prefix"/> (lower-case), USD per million tokens.</summary>
public sealed record ModelPriceOverride(string Prefix, decimal InputPerMillion, decimal OutputPerMillion);
