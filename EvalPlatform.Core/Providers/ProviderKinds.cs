namespace EvalPlatform.Core.Providers;

/// <summary>The wire names of <see cref="ProviderKind"/> and each kind's default base URL (as its SDK takes it).</summary>
public static class ProviderKinds
{
    public const string OpenAiDefaultBaseUrl = "https://api.openai.com/v1";
    public const string AnthropicDefaultBaseUrl = "https://api.anthropic.com";

    public static string Format(ProviderKind kind) => kind switch
    {
        ProviderKind.OpenAi => "openai",
        ProviderKind.Anthropic => "anthropic",
        ProviderKind.OpenAiCompatible => "openai_compatible",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };

    public static bool TryParse(string? value, out ProviderKind kind)
    {
        switch (value?.Trim().ToLowerInvariant())
        {
            case "openai":
                kind = ProviderKind.OpenAi;
                return true;
            case "anthropic":
                kind = ProviderKind.Anthropic;
                return true;
            case "openai_compatible":
                kind = ProviderKind.OpenAiCompatible;
                return true;
            default:
                kind = default;
                return false;
        }
    }

    /// <summary>The public endpoint a kind defaults to; none for an OpenAI-compatible server.</summary>
    public static string? DefaultBaseUrl(ProviderKind kind) => kind switch
    {
        ProviderKind.OpenAi => OpenAiDefaultBaseUrl,
        ProviderKind.Anthropic => AnthropicDefaultBaseUrl,
        _ => null,
    };

    /// <summary>True when a connection of <paramref name="connection"/> kind serves a call shaped as <paramref name="call"/>.</summary>
    public static bool Serves(ProviderKind connection, ProviderKind call) =>
        call == ProviderKind.Anthropic ? connection == ProviderKind.Anthropic : connection is ProviderKind.OpenAi or ProviderKind.OpenAiCompatible;
}
