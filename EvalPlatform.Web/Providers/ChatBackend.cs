using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;
using EvalPlatform.Core.Providers;

namespace EvalPlatform.Web.Providers;

/// <summary>What a provider answered, before the platform adds latency and cost.</summary>
internal sealed record BackendAnswer(string Model, string Text, string? FinishReason, int? InputTokens, int? OutputTokens);

/// <summary>A piece of a streamed answer: text, or (last) the whole answer.</summary>
internal sealed record BackendPiece(string? TextDelta, BackendAnswer? Final);

/// <summary>One provider SDK behind <see cref="LlmChat"/>: refusals surface as <see cref="LlmCallException"/>.</summary>
internal interface IChatBackend
{
    Task<BackendAnswer> CompleteAsync(ResolvedProvider provider, LlmChatRequest request, CancellationToken ct);

    IAsyncEnumerable<BackendPiece> StreamAsync(ResolvedProvider provider, LlmChatRequest request, CancellationToken ct);

    Task<IReadOnlyList<string>> ListModelsAsync(ResolvedProvider provider, CancellationToken ct);
}

internal static class Upstream
{
    /// <summary>A <c>Retry-After</c> value: delta-seconds or an HTTP date (relative to <paramref name="now"/>).</summary>
    public static TimeSpan? RetryAfter(string? value, DateTimeOffset now)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return null;
        }

        if (double.TryParse(value.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) && seconds >= 0)
        {
            return TimeSpan.FromSeconds(seconds);
        }

        return DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at) && at > now ? at - now : null;
    }

    public static TimeSpan? RetryAfter(RetryConditionHeaderValue? header, DateTimeOffset now) =>
        header?.Delta ?? (header?.Date is { } date && date > now ? date - now : null);

    /// <summary>The provider's own message out of an error body (<c>{"error":{"message"}}</c>, both providers), else the body.</summary>
    public static string Message(string? body, string fallback)
    {
        if (string.IsNullOrWhiteSpace(body))
        {
            return fallback;
        }

        try
        {
            using var doc = JsonDocument.Parse(body);
            if (doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("error", out var error))
            {
                if (error.ValueKind == JsonValueKind.Object && error.TryGetProperty("message", out var message) && message.ValueKind == JsonValueKind.String)
                {
                    return message.GetString()!;
                }

                if (error.ValueKind == JsonValueKind.String)
                {
                    return error.GetString()!;
                }
            }
        }
        catch (JsonException)
        {
            // Not JSON: the body is the message.
        }

        return body.Length > 500 ? body[..500] : body;
    }

    /// <summary>A message role, lower-case; anything but system, user and assistant is refused before any call.</summary>
    public static string RequireRole(string role) => role.Trim().ToLowerInvariant() switch
    {
        "system" => "system",
        "user" => "user",
        "assistant" => "assistant",
        _ => throw new LlmCallException(null, $"A message's role must be system, user or assistant, not '{role}'."),
    };
}
