using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace EvalPlatform.Tests.Infrastructure;

/// <summary>
/// OpenAI's API on a loopback port, as its documentation gives the wire format:
/// <list type="bullet">
/// <item><c>POST /v1/chat/completions</c>: a <c>chat.completion</c> object; with <c>"stream": true</c> server-sent
/// <c>chat.completion.chunk</c>s (the role, then one per word, tool-call fragments with <c>index</c>, the finish reason),
/// a last chunk with <c>choices: []</c> and <c>usage</c> when <c>stream_options.include_usage</c>, then <c>data: [DONE]</c>.</item>
/// <item><c>POST /v1/responses</c> (the Responses API): a <c>response</c> object whose <c>output</c> holds a <c>message</c> item
/// with <c>output_text</c> or a <c>function_call</c> item, and <c>usage</c> with <c>input_tokens</c>/<c>output_tokens</c>; with
/// <c>"stream": true</c> the typed events, each named and numbered (<c>response.created</c>, <c>response.output_item.added</c>,
/// <c>response.output_text.delta</c> per word or <c>response.function_call_arguments.delta</c> per fragment, the
/// <c>.done</c> events, then <c>response.completed</c> carrying the whole response).</item>
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

        if (context.Request.Method == "POST" && path == "/v1/responses")
        {
            await ResponsesAsync(context, body);
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

    private async Task ResponsesAsync(HttpContext context, string body)
    {
        var request = ParseOrDefault(body);
        if (request.ValueKind != JsonValueKind.Object || !request.TryGetProperty("input", out var input)
            || input.ValueKind is not (JsonValueKind.String or JsonValueKind.Array))
        {
            await ErrorAsync(context, 400, "Missing required parameter: 'input'.", "invalid_request_error", "missing_required_parameter");
            return;
        }

        var reply = await TakeReplyAsync(context);
        if (reply.Status != 200)
        {
            if (reply.RetryAfter is not null)
            {
                context.Response.Headers.RetryAfter = reply.RetryAfter;
            }

            await ErrorAsync(context, reply.Status, reply.ErrorMessage ?? "The server had an error while processing your request.", reply.Status == 429 ? "requests" : "server_error", null);
            return;
        }

        var model = ModelOf(request, "gpt-4o-mini");
        var id = $"resp_{Guid.NewGuid():N}";
        var itemId = reply.ToolCall is null ? $"msg_{Guid.NewGuid():N}" : $"fc_{Guid.NewGuid():N}";
        var text = reply.ToolCall is null ? reply.Text ?? DefaultText : null;
        var created = TimeProvider.System.GetUtcNow().ToUnixTimeSeconds();
        var instructions = request.TryGetProperty("instructions", out var given) && given.ValueKind == JsonValueKind.String ? given.GetString() : null;

        object Item(string status) => reply.ToolCall is { } call
            ? new { type = "function_call", id = itemId, call_id = "call_fake_0001", name = call.Name, arguments = status == "completed" ? call.ArgumentsJson : "", status }
            : new
            {
                type = "message",
                id = itemId,
                status,
                role = "assistant",
                content = status == "completed" ? new object[] { new { type = "output_text", text, annotations = Array.Empty<object>() } } : [],
            };

        object Response(string status, int? output) => new
        {
            id,
            @object = "response",
            created_at = created,
            status,
            error = (object?)null,
            incomplete_details = (object?)null,
            instructions,
            model,
            output = status == "completed" ? new[] { Item("completed") } : [],
            parallel_tool_calls = true,
            previous_response_id = (string?)null,
            store = true,
            temperature = 1.0,
            text = new { format = new { type = "text" } },
            tool_choice = "auto",
            tools = Array.Empty<object>(),
            top_p = 1.0,
            truncation = "disabled",
            usage = output is null
                ? null
                : new
                {
                    input_tokens = reply.InputTokens,
                    input_tokens_details = new { cached_tokens = 0 },
                    output_tokens = output,
                    output_tokens_details = new { reasoning_tokens = 0 },
                    total_tokens = reply.InputTokens + output,
                },
            metadata = new { },
        };

        var pieces = text is null ? Fragments(reply.ToolCall!.ArgumentsJson) : Pieces(text);
        if (!WantsStream(request))
        {
            await WriteJsonAsync(context, 200, Response("completed", reply.OutputTokens ?? Math.Max(1, pieces.Count)));
            return;
        }

        StartEventStream(context);
        var sequence = 0;
        Task Send(string type, object fields)
        {
            var node = System.Text.Json.Nodes.JsonNode.Parse(JsonSerializer.Serialize(fields))!.AsObject();
            node["type"] = type;
            node["sequence_number"] = sequence++;
            return WriteEventAsync(context, type, node.ToJsonString());
        }

        await Send("response.created", new { response = Response("in_progress", null) });
        await Send("response.in_progress", new { response = Response("in_progress", null) });
        await Send("response.output_item.added", new { output_index = 0, item = Item("in_progress") });
        if (text is not null)
        {
            await Send("response.content_part.added", new { item_id = itemId, output_index = 0, content_index = 0, part = new { type = "output_text", text = "", annotations = Array.Empty<object>() } });
        }

        var sent = 0;
        foreach (var piece in pieces)
        {
            await (text is null
                ? Send("response.function_call_arguments.delta", new { item_id = itemId, output_index = 0, delta = piece })
                : Send("response.output_text.delta", new { item_id = itemId, output_index = 0, content_index = 0, delta = piece, logprobs = Array.Empty<object>() }));
            if (await PieceSentAsync(context, reply, ++sent))
            {
                return;
            }
        }

        if (text is null)
        {
            await Send("response.function_call_arguments.done", new { item_id = itemId, output_index = 0, arguments = reply.ToolCall!.ArgumentsJson });
        }
        else
        {
            await Send("response.output_text.done", new { item_id = itemId, output_index = 0, content_index = 0, text, logprobs = Array.Empty<object>() });
            await Send("response.content_part.done", new { item_id = itemId, output_index = 0, content_index = 0, part = new { type = "output_text", text, annotations = Array.Empty<object>() } });
        }

        await Send("response.output_item.done", new { output_index = 0, item = Item("completed") });
        await Send("response.completed", new { response = Response("completed", reply.OutputTokens ?? Math.Max(1, sent)) });
    }

    private static Task ErrorAsync(HttpContext context, int status, string message, string type, string? code) =>
        WriteJsonAsync(context, status, new { error = new { message, type, param = (string?)null, code } });
}
