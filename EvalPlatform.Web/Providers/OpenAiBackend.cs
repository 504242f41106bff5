using System.Runtime.CompilerServices;
using System.Text.Json;
using Betalgo.Ranul.OpenAI;
using Betalgo.Ranul.OpenAI.ObjectModels.ResponseModels;
using Betalgo.Ranul.OpenAI.Managers;
using Betalgo.Ranul.OpenAI.ObjectModels.RequestModels;
using EvalPlatform.Core.Providers;

namespace EvalPlatform.Web.Providers;

/// <summary>
/// OpenAI and OpenAI-compatible servers through Betalgo.Ranul.OpenAI. The SDK builds its URLs as
/// <c>BaseDomain + ApiVersion + "/chat/completions"</c>, so a connection's base URL (ending in <c>/v1</c>, or any path an
/// OpenAI-compatible server uses) is split at its last segment. A new <see cref="HttpClient"/> per call: the SDK writes
/// the key into the client's default headers.
/// </summary>
internal sealed class OpenAiBackend(IHttpClientFactory httpFactory, TimeProvider clock) : IChatBackend
{
    /// <summary>The OpenAI request fields a caller may pass in <see cref="LlmChatRequest.Parameters"/>; others are refused, not dropped.</summary>
    public static readonly IReadOnlySet<string> Parameters = new HashSet<string>(StringComparer.Ordinal) { "top_p", "stop", "seed", "presence_penalty", "frequency_penalty" };

    public async Task<BackendAnswer> CompleteAsync(ResolvedProvider provider, LlmChatRequest request, CancellationToken ct)
    {
        using var service = Service(provider);
        var response = await service.ChatCompletion.CreateCompletion(Build(provider, request), cancellationToken: ct);
        ThrowIfRefused(response);
        var choice = response.Choices?.FirstOrDefault();
        return new BackendAnswer(response.Model ?? request.Model, choice?.Message?.Content ?? "", choice?.FinishReason, response.Usage?.PromptTokens, response.Usage?.CompletionTokens);
    }

    public async IAsyncEnumerable<BackendPiece> StreamAsync(ResolvedProvider provider, LlmChatRequest request, [EnumeratorCancellation] CancellationToken ct)
    {
        using var service = Service(provider);
        var create = Build(provider, request);
        create.StreamOptions = new StreamOptions { IncludeUsage = true };
        string? model = null;
        string? finish = null;
        int? input = null;
        int? output = null;
        var text = new System.Text.StringBuilder();
        await foreach (var chunk in service.ChatCompletion.CreateCompletionAsStream(create, cancellationToken: ct))
        {
            ThrowIfRefused(chunk);
            model ??= chunk.Model;
            if (chunk.Usage is { } usage)
            {
                input = usage.PromptTokens;
                output = usage.CompletionTokens;
            }

            if (chunk.Choices is { Count: > 0 } choices)
            {
                finish = choices[0].FinishReason ?? finish;
                if (choices[0].Message?.Content is { Length: > 0 } delta)
                {
                    text.Append(delta);
                    yield return new BackendPiece(delta, null);
                }
            }
        }

        // A stream cut before its finish reason is an unfinished answer, not a short one.
        if (finish is null)
        {
            throw new LlmCallException(null, "The provider's stream ended before the answer was complete.");
        }

        yield return new BackendPiece(null, new BackendAnswer(model ?? request.Model, text.ToString(), finish, input, output));
    }

    /// <summary>
    /// <c>GET {base}/models</c> over the same guarded HttpClient, not through the package: its <c>ListModel</c> reads with
    /// <c>GetFromJsonAsync</c>, which throws away the status and the provider's message on a refusal.
    /// </summary>
    public async Task<IReadOnlyList<string>> ListModelsAsync(ResolvedProvider provider, CancellationToken ct)
    {
        using var http = httpFactory.CreateClient(ProvidersServiceCollectionExtensions.HttpClientName);
        using var request = new HttpRequestMessage(HttpMethod.Get, provider.BaseUrl.ToString().TrimEnd('/') + "/models");
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", provider.ApiKey);
        using var response = await http.SendAsync(request, ct);
        var body = await response.Content.ReadAsStringAsync(ct);
        if (!response.IsSuccessStatusCode)
        {
            throw new LlmCallException((int)response.StatusCode, Upstream.Message(body, $"The provider answered {(int)response.StatusCode}."),
                Upstream.RetryAfter(response.Headers.RetryAfter, clock.GetUtcNow()));
        }

        using var json = JsonDocument.Parse(body);
        return json.RootElement.TryGetProperty("data", out var data) && data.ValueKind == JsonValueKind.Array
            ? data.EnumerateArray().Select(m => m.TryGetProperty("id", out var id) && id.ValueKind == JsonValueKind.String ? id.GetString()! : "")
                .Where(id => id.Length > 0).Order(StringComparer.Ordinal).ToList()
            : throw new LlmCallException((int)response.StatusCode, "The provider's model list has no 'data' array.");
    }

    private OpenAIService Service(ResolvedProvider provider)
    {
        var (baseDomain, apiVersion) = Split(provider.BaseUrl);
        var options = new OpenAIOptions
        {
            ApiKey = provider.ApiKey,
            BaseDomain = baseDomain,
            ApiVersion = apiVersion,
            // A server at the root (no path) has no version segment, which the SDK's own check refuses.
            ValidateApiOptions = apiVersion.Length > 0,
        };
        return new OpenAIService(options, httpFactory.CreateClient(ProvidersServiceCollectionExtensions.HttpClientName));
    }

    /// <summary><c>http://h/openai/v1</c> → (<c>http://h/openai/</c>, <c>v1</c>); <c>http://h:8000</c> → (<c>http://h:8000/</c>, "").</summary>
    internal static (string BaseDomain, string ApiVersion) Split(Uri baseUrl)
    {
        var path = baseUrl.AbsolutePath.TrimEnd('/');
        var slash = path.LastIndexOf('/');
        var root = baseUrl.GetLeftPart(UriPartial.Authority);
        return slash < 0 || path.Length == 0 ? (root + "/", "") : (root + path[..(slash + 1)], path[(slash + 1)..]);
    }

    private static ChatCompletionCreateRequest Build(ResolvedProvider provider, LlmChatRequest request)
    {
        var messages = new List<ChatMessage>();
        if (!string.IsNullOrEmpty(request.System))
        {
            messages.Add(ChatMessage.FromSystem(request.System));
        }

        foreach (var message in request.Messages)
        {
            messages.Add(Upstream.RequireRole(message.Role) switch
            {
                "system" => ChatMessage.FromSystem(message.Content),
                "assistant" => ChatMessage.FromAssistant(message.Content),
                _ => ChatMessage.FromUser(message.Content),
            });
        }

        var create = new ChatCompletionCreateRequest
        {
            Model = request.Model,
            Messages = messages,
            Temperature = request.Temperature is { } t ? (float)t : null,
        };
        // OpenAI's newer models take max_completion_tokens only; compatible servers (vLLM, Ollama) know max_tokens.
        if (provider.Kind == ProviderKind.OpenAi)
        {
            create.MaxCompletionTokens = request.MaxTokens;
        }
        else
        {
            create.MaxTokens = request.MaxTokens;
        }

        if (request.JsonResponse)
        {
            create.ResponseFormat = new ResponseFormat { Type = Betalgo.Ranul.OpenAI.Contracts.Enums.ResponseFormat.JsonObject };
        }

        foreach (var (name, value) in request.Parameters ?? new Dictionary<string, JsonElement>())
        {
            switch (name)
            {
                case "top_p" when value.ValueKind == JsonValueKind.Number:
                    create.TopP = value.GetSingle();
                    break;
                case "seed" when value.ValueKind == JsonValueKind.Number:
                    create.Seed = value.GetInt32();
                    break;
                case "presence_penalty" when value.ValueKind == JsonValueKind.Number:
                    create.PresencePenalty = value.GetSingle();
                    break;
                case "frequency_penalty" when value.ValueKind == JsonValueKind.Number:
                    create.FrequencyPenalty = value.GetSingle();
                    break;
                case "stop" when value.ValueKind == JsonValueKind.String:
                    create.Stop = value.GetString();
                    break;
                case "stop" when value.ValueKind == JsonValueKind.Array:
                    create.StopAsList = value.EnumerateArray().Select(s => s.GetString() ?? "").ToList();
                    break;
                default:
                    throw new LlmCallException(null, $"The parameter '{name}' is not supported for OpenAI calls (supported: {string.Join(", ", Parameters)}, with number or string values).");
            }
        }

        return create;
    }

    private void ThrowIfRefused(BaseResponse response)
    {
        if (response.Successful)
        {
            return;
        }

        var status = (int)response.HttpStatusCode;
        var message = response.Error?.Message ?? (response.Error?.Messages is { Count: > 0 } all ? string.Join("; ", all) : null);
        string? retryAfter = null;
        if (response.HeaderValues?.All is { } headers)
        {
            retryAfter = headers.FirstOrDefault(h => string.Equals(h.Key, "Retry-After", StringComparison.OrdinalIgnoreCase)).Value?.FirstOrDefault();
        }

        throw new LlmCallException(status == 0 ? null : status, message ?? $"The provider answered {status}.", Upstream.RetryAfter(retryAfter, clock.GetUtcNow()));
    }
}
