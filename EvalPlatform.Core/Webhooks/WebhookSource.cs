namespace EvalPlatform.Core.Webhooks;

/// <summary>
/// The <c>{source}</c> of <c>POST /api/v1/webhooks/{source}</c>: a label the sender chooses (which
/// system fired the webhook), recorded on each stored trace as the tag <c>webhook:{source}</c>.
/// </summary>
public static class WebhookSource
{
    public const int MaxLength = 64;
    public const string TagPrefix = "webhook:";

    public static bool IsValid(string? source) =>
        source is { Length: > 0 and <= MaxLength } && source.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '_' or '-');

    public static string Tag(string source) => TagPrefix + source;
}
