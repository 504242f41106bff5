using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace EvalPlatform.Tests.Infrastructure;

/// <summary>
/// OpenAI's API on a loopback port, as its documentation gives the wire format:
/// <list type="bullet">
/// <item><c>POST /v1/chat/completions</c>: a <c>chat.completion</c> object; with <c>"stream": true</c> server-sent
/// <c>chat.completion.chunk</c>s (the role, then one per word, tool-call fragments with <c>index</c>, the finish reason),
/// a last chunk with <c>choices: []</c> and <c>usage</c> when <c>stream_options.include_usage</c>, then <c>data: [DONE]</c>.</item>
/// <item><c>GET /v1/models</c>: <c>{"object":"list","data":[{"id",…}]}</c>.</item>
/// <item>Errors as <c>{"error":{"message","type","param","code"}}</c>: 401 for a wrong bearer key, 429 (with
/// <c>Retry-After</c>), 500, as scripted.</item>
/// </list>
/// </summary>
public sealed class FakeOpenAiServer : FakeUpstreamServer
{
    public const string Key = "sk-test-fake-openai-0001";

    private FakeOpenAiServer()
    {
        ApiKey = Key;
        Models = ["gpt-4o-mini", "gpt-4o", "text-embedding-3-small"];
    }

    /// <summary>The base URL as the OpenAI SDKs take it (ends in <c>/v1</c>).</summary>
    public string BaseUrl => new Uri(Address, "v1").ToString();

    public static async Task<FakeOpenAiServer> StartNewAsync()
    {
        var server = new FakeOpenAiServer();
        await server.StartAsync();
        return server;
    }

    protected override async Task HandleAsync(HttpContext context, string body)
    {
        var path = context.Request.Path.Value ?? "";
        if (context.Request.Headers.Authorization.ToString() != $"Bearer {ApiKey}")
        {
            await ErrorAsync(context, 401, "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.", "invalid_request_error", "invalid_api_key");
            return;
        }

        if (context.Request.Method == "GET" && path == "/v1/models")
        {
            await WriteJsonAsync(context, 200, new
            {
                @object = "list",
                data = Models.Select(m => new { id = m, @object = "model", created = 1_715_367_049, owned_by = "system" }),
            });
            return;
        }

        if (context.Request.Method != "POST" || path != "/v1/chat/completions")
        {
            await ErrorAsync(context, 404, $"Invalid URL ({context.Request.Method} {path})", "invalid_request_error", null);
            return;
        }

        var request = ParseOrDefault(body);
        if (request.ValueKind != JsonValueKind.Object || !request.TryGetProperty("messages", out var messages) || messages.ValueKind != JsonValueKind.Array)
        {
            await ErrorAsync(context, 400, "'messages' is a required property", "invalid_request_error", null);
            return;
        }

        var reply = await TakeReplyAsync(context);
        if (reply.Status != 200)
        {
            if (reply.RetryAfter is not null)
            {
                context.Response.Headers.RetryAfter = reply.RetryAfter;
            }

            var (type, code) = reply.Status == 429 ? ("requests", "rate_limit_exceeded") : reply.Status >= 500 ? ("server_error", (string?)null) : ("invalid_request_error", null);
            await ErrorAsync(context, reply.Status, reply.ErrorMessage ?? (reply.Status == 429 ? "Rate limit reached for requests. Please try again later." : "The server had an error while processing your request."), type, code);
            return;
        }

        var model = ModelOf(request, "gpt-4o-mini");
        var id = $"chatcmpl-{Guid.NewGuid():N}";
        var text = reply.ToolCall is null ? reply.Text ?? DefaultText : reply.Text;
        if (WantsStream(request))
        {
            var includeUsage = request.TryGetProperty("stream_options", out var options) && options.ValueKind == JsonValueKind.Object
                && options.TryGetProperty("include_usage", out var include) && include.ValueKind == JsonValueKind.True;
            await StreamAsync(context, reply, id, model, text, includeUsage);
            return;
        }

        var pieces = text is null ? [] : Pieces(text);
        var output = reply.OutputTokens ?? Math.Max(1, pieces.Count + (reply.ToolCall is null ? 0 : 5));
        object? toolCalls = reply.ToolCall is { } call
            ? new[] { new { id = "call_fake_0001", type = "function", function = new { name = call.Name, arguments = call.ArgumentsJson } } }
            : null;
        await WriteJsonAsync(context, 200, new
        {
            id,
            @object = "chat.completion",
            created = TimeProvider.System.GetUtcNow().ToUnixTimeSeconds(),
            model,
            choices = new[]
            {
                new
                {
                    index = 0,
                    message = new { role = "assistant", content = text, refusal = (string?)null, tool_calls = toolCalls },
                    logprobs = (object?)null,
                    finish_reason = reply.ToolCall is null ? "stop" : "tool_calls",
                },
            },
            usage = new { prompt_tokens = reply.InputTokens, completion_tokens = output, total_tokens = reply.InputTokens + output },
            system_fingerprint = "fp_fake",
        });
    }

    private static async Task StreamAsync(HttpContext context, FakeReply reply, string id, string model, string? text, bool includeUsage)
    {
        var created = TimeProvider.System.GetUtcNow().ToUnixTimeSeconds();
        string Chunk(object delta, string? finish) => JsonSerializer.Serialize(new
        {
            id,
            @object = "chat.completion.chunk",
            created,
            model,
            system_fingerprint = "fp_fake",
            choices = new[] { new { index = 0, delta, logprobs = (object?)null, finish_reason = finish } },
            usage = (object?)null,
        });

        StartEventStream(context);
        var sent = 0;
        await WriteEventAsync(context, null, Chunk(new { role = "assistant", content = "", refusal = (string?)null }, null));
        foreach (var piece in text is null ? [] : Pieces(text))
        {
            await WriteEventAsync(context, null, Chunk(new { content = piece }, null));
            if (await PieceSentAsync(context, reply, ++sent))
            {
                return;
            }
        }

        if (reply.ToolCall is { } call)
        {
            await WriteEventAsync(context, null, Chunk(new { tool_calls = new[] { new { index = 0, id = "call_fake_0001", type = "function", function = new { name = call.Name, arguments = "" } } } }, null));
            foreach (var fragment in Fragments(call.ArgumentsJson))
            {
                await WriteEventAsync(context, null, Chunk(new { tool_calls = new[] { new { index = 0, function = new { arguments = fragment } } } }, null));
                if (await PieceSentAsync(context, reply, ++sent))
                {
                    return;
                }
            }
        }

        await WriteEventAsync(context, null, Chunk(new { }, reply.ToolCall is null ? "stop" : "tool_calls"));
        if (includeUsage)
        {
            var output = reply.OutputTokens ?? Math.Max(1, sent);
            await WriteEventAsync(context, null, JsonSerializer.Serialize(new
            {
                id,
                @object = "chat.completion.chunk",
                created,
                model,
                system_fingerprint = "fp_fake",
                choices = Array.Empty<object>(),
                usage = new { prompt_tokens = reply.InputTokens, completion_tokens = output, total_tokens = reply.InputTokens + output },
            }));
        }

        await WriteEventAsync(context, null, "[DONE]");
    }

    private static Task ErrorAsync(HttpContext context, int status, string message, string type, string? code) =>
        WriteJsonAsync(context, status, new { error = new { message, type, param = (string?)null, code } });
}
