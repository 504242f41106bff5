using System.Net;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using Anthropic;
using Anthropic.Core;
using Anthropic.Exceptions;
using Anthropic.Models.Messages;
using Anthropic.Models.Models;
using EvalPlatform.Core.Providers;
using Microsoft.Extensions.Options;

namespace EvalPlatform.Web.Providers;

/// <summary>
/// Anthropic through the official <c>Anthropic</c> package. The request body is given as raw JSON
/// (<see cref="MessageCreateParams.FromRawUnchecked"/>): the package's typed parameters no longer carry
/// <c>temperature</c>, and callers' other parameters pass as given. Answers are read from the package's models as the
/// JSON they hold (the documented wire shape). The SDK's own retries are off (a refusal goes back to the caller with its
/// <c>Retry-After</c>, which the SDK's exceptions do not carry: a handler notes it).
/// </summary>
internal sealed class AnthropicBackend(IHttpClientFactory httpFactory, IOptionsMonitor<ProviderOptions> options, TimeProvider clock) : IChatBackend
{
    public const string JsonInstruction = "Answer with one JSON object and nothing else.";

    public async Task<BackendAnswer> CompleteAsync(ResolvedProvider provider, LlmChatRequest request, CancellationToken ct)
    {
        var capture = new RefusalCapture();
        using var client = Client(provider, capture);
        try
        {
            var message = await client.Messages.Create(Build(request, stream: false), ct);
            var json = JsonSerializer.SerializeToElement(message);
            var text = new StringBuilder();
            if (json.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.Array)
            {
                foreach (var block in content.EnumerateArray().Where(b => Str(b, "type") == "text"))
                {
                    text.Append(Str(block, "text"));
                }
            }

            var usage = json.TryGetProperty("usage", out var u) ? u : default;
            return new BackendAnswer(Str(json, "model") ?? request.Model, text.ToString(), Str(json, "stop_reason"), Int(usage, "input_tokens"), Int(usage, "output_tokens"));
        }
        catch (AnthropicException e)
        {
            throw Refusal(e, capture);
        }
    }

    public async IAsyncEnumerable<BackendPiece> StreamAsync(ResolvedProvider provider, LlmChatRequest request, [EnumeratorCancellation] CancellationToken ct)
    {
        var capture = new RefusalCapture();
        using var client = Client(provider, capture);
        var events = client.Messages.CreateStreaming(Build(request, stream: true), ct).GetAsyncEnumerator(ct);
        string? model = null;
        string? stop = null;
        int? input = null;
        int? output = null;
        var stopped = false;
        var text = new StringBuilder();
        try
        {
            while (true)
            {
                JsonElement json;
                try
                {
                    if (!await events.MoveNextAsync())
                    {
                        break;
                    }

                    json = JsonSerializer.SerializeToElement(events.Current);
                }
                catch (AnthropicException e)
                {
                    throw Refusal(e, capture);
                }

                switch (Str(json, "type"))
                {
                    case "message_start" when json.TryGetProperty("message", out var message):
                        model = Str(message, "model");
                        input = message.TryGetProperty("usage", out var startUsage) ? Int(startUsage, "input_tokens") : null;
                        break;
                    case "content_block_delta" when json.TryGetProperty("delta", out var delta) && Str(delta, "type") == "text_delta":
                        var piece = Str(delta, "text");
                        if (!string.IsNullOrEmpty(piece))
                        {
                            text.Append(piece);
                            yield return new BackendPiece(piece, null);
                        }

                        break;
                    case "message_delta":
                        stop = json.TryGetProperty("delta", out var messageDelta) ? Str(messageDelta, "stop_reason") ?? stop : stop;
                        if (json.TryGetProperty("usage", out var deltaUsage))
                        {
                            output = Int(deltaUsage, "output_tokens") ?? output;
                            input = Int(deltaUsage, "input_tokens") ?? input;
                        }

                        break;
                    case "message_stop":
                        stopped = true;
                        break;
                    case "error":
                        var error = json.TryGetProperty("error", out var e) ? e : default;
                        throw new LlmCallException(null, Str(error, "message") ?? Str(error, "type") ?? "The provider sent an error event.");
                }
            }
        }
        finally
        {
            await events.DisposeAsync();
        }

        if (!stopped)
        {
            throw new LlmCallException(null, "The provider's stream ended before the answer was complete.");
        }

        yield return new BackendPiece(null, new BackendAnswer(model ?? request.Model, text.ToString(), stop, input, output));
    }

    public async Task<IReadOnlyList<string>> ListModelsAsync(ResolvedProvider provider, CancellationToken ct)
    {
        var capture = new RefusalCapture();
        using var client = Client(provider, capture);
        try
        {
            var ids = new List<string>();
            var page = await client.Models.List(new ModelListParams { Limit = 1000 }, ct);
            ids.AddRange(page.Items.Select(m => m.ID));
            return ids.Where(id => !string.IsNullOrEmpty(id)).Order(StringComparer.Ordinal).ToList();
        }
        catch (AnthropicException e)
        {
            throw Refusal(e, capture);
        }
    }

    private AnthropicClient Client(ResolvedProvider provider, RefusalCapture capture) => new(new ClientOptions
    {
        ApiKey = provider.ApiKey,
        BaseUrl = provider.BaseUrl.ToString().TrimEnd('/'),
        HttpClient = httpFactory.CreateClient(ProvidersServiceCollectionExtensions.HttpClientName),
        Handlers = [capture],
        MaxRetries = 0,
        Timeout = TimeSpan.FromSeconds(options.CurrentValue.TimeoutSeconds),
    });

    private MessageCreateParams Build(LlmChatRequest request, bool stream)
    {
        var system = new List<string>();
        if (!string.IsNullOrEmpty(request.System))
        {
            system.Add(request.System);
        }

        var messages = new List<object>();
        foreach (var message in request.Messages)
        {
            if (Upstream.RequireRole(message.Role) == "system")
            {
                system.Add(message.Content); // Anthropic has no system turns: they join the system prompt.
            }
            else
            {
                messages.Add(new { role = Upstream.RequireRole(message.Role), content = message.Content });
            }
        }

        if (request.JsonResponse)
        {
            system.Add(JsonInstruction);
        }

        var body = new Dictionary<string, JsonElement>(StringComparer.Ordinal)
        {
            ["model"] = JsonSerializer.SerializeToElement(request.Model),
            ["max_tokens"] = JsonSerializer.SerializeToElement(request.MaxTokens ?? options.CurrentValue.DefaultMaxTokens),
            ["messages"] = JsonSerializer.SerializeToElement(messages),
        };
        if (system.Count > 0)
        {
            body["system"] = JsonSerializer.SerializeToElement(string.Join("\n\n", system));
        }

        if (request.Temperature is { } temperature)
        {
            body["temperature"] = JsonSerializer.SerializeToElement(temperature);
        }

        foreach (var (name, value) in request.Parameters ?? new Dictionary<string, JsonElement>())
        {
            if (body.ContainsKey(name) || name == "stream")
            {
                throw new LlmCallException(null, $"The parameter '{name}' is set by the request itself; it cannot be passed as a parameter.");
            }

            body[name] = value;
        }

        if (stream)
        {
            body["stream"] = JsonSerializer.SerializeToElement(true);
        }

        return MessageCreateParams.FromRawUnchecked(new Dictionary<string, JsonElement>(), new Dictionary<string, JsonElement>(), body);
    }

    private LlmCallException Refusal(AnthropicException e, RefusalCapture capture) => e switch
    {
        AnthropicApiException api => new LlmCallException((int)api.StatusCode, Upstream.Message(api.ResponseBody, $"The provider answered {(int)api.StatusCode}."),
            Upstream.RetryAfter(capture.RetryAfter, clock.GetUtcNow()), e),
        _ => new LlmCallException(capture.Status is { } status && (int)status >= 400 ? (int)status : null, e.Message, Upstream.RetryAfter(capture.RetryAfter, clock.GetUtcNow()), e),
    };

    private static string? Str(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static int? Int(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number ? value.GetInt32() : null;

    /// <summary>Notes the last answer's status and <c>Retry-After</c> (the package's exceptions carry neither header).</summary>
    private sealed class RefusalCapture : DelegatingHandler
    {
        public HttpStatusCode? Status { get; private set; }

        public System.Net.Http.Headers.RetryConditionHeaderValue? RetryAfter { get; private set; }

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var response = await base.SendAsync(request, cancellationToken);
            Status = response.StatusCode;
            RetryAfter = response.Headers.RetryAfter;
            return response;
        }
    }
}
