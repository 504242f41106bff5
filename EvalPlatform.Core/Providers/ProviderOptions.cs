using System.ComponentModel.DataAnnotations;

namespace EvalPlatform.Core.Providers;

/// <summary>The <c>Providers</c> section: limits of the platform's own calls to a model.</summary>
public sealed class ProviderOptions
{
    public const string SectionName = "Providers";

    /// <summary>
    /// How long one call to a model may take, first byte to last (a whole stream included). Longer than
    /// <c>Outbound:TimeoutSeconds</c>: a model writing a long answer is not a hung webhook.
    /// </summary>
    [Range(1, 3600)]
    public int TimeoutSeconds { get; set; } = 300;

    /// <summary>The <c>max_tokens</c> sent to Anthropic (which requires one) when a request gives none.</summary>
    [Range(1, 200_000)]
    public int DefaultMaxTokens { get; set; } = 1024;
}
