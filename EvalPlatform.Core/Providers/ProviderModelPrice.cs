using EvalPlatform.Core.Tenancy;

namespace EvalPlatform.Core.Providers;

/// <summary>
/// A team's own price for the models whose name starts with <see cref="ModelPrefix"/> (USD per million tokens). It
/// overrides <see cref="Traces.ModelPrices"/>' built-in list for that team's calls; the cost is still computed there.
/// </summary>
public sealed class ProviderModelPrice : ITeamOwned
{
    public Guid Id { get; set; }
    public Guid TeamId { get; set; }

    /// <summary>Lower-case; the longest matching prefix wins, as in the built-in list.</summary>
    public required string ModelPrefix { get; set; }

    public decimal InputPerMillion { get; set; }
    public decimal OutputPerMillion { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
}
