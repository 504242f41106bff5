using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace EvalPlatform.Tests.Infrastructure;

/// <summary>
/// Anthropic's API on a loopback port, as its documentation gives the wire format:
/// <list type="bullet">
/// <item><c>POST /v1/messages</c> (headers <c>x-api-key</c>, <c>anthropic-version</c>): a <c>message</c> object with
/// <c>text</c> and <c>tool_use</c> content blocks, <c>stop_reason</c> and <c>usage</c>; with <c>"stream": true</c> the
/// events <c>message_start</c> (input tokens), <c>content_block_start</c>, <c>ping</c>, <c>content_block_delta</c>
/// (<c>text_delta</c>, <c>input_json_delta</c>), <c>content_block_stop</c>, <c>message_delta</c> (stop reason, output
/// tokens), <c>message_stop</c>.</item>
/// <item><c>GET /v1/models</c>: <c>{"data":[{"type":"model","id","display_name","created_at"}],"has_more",…}</c>.</item>
/// <item>Errors as <c>{"type":"error","error":{"type","message"}}</c>: 401 <c>authentication_error</c>, 400 without
/// <c>anthropic-version</c>, 429 <c>rate_limit_error</c> (with <c>Retry-After</c>), 500 <c>api_error</c>, 529 <c>overloaded_error</c>.</item>
/// </list>
/// </summary>
public sealed class FakeAnthropicServer : FakeUpstreamServer
{
    public const string Key = "sk-ant-test-fake-0001";

    private FakeAnthropicServer()
    {
        ApiKey = Key;
        Models = ["claude-sonnet-4-20250514", "claude-3-5-haiku-20241022"];
    }

    /// <summary>The base URL as the Anthropic SDKs take it (no <c>/v1</c>).</summary>
    public string BaseUrl => Address.ToString().TrimEnd('/');

    public static async Task<FakeAnthropicServer> StartNewAsync()
    {
        var server = new FakeAnthropicServer();
        await server.StartAsync();
        return server;
    }

    protected override async Task HandleAsync(HttpContext context, string body)
    {
        var path = context.Request.Path.Value ?? "";
        if (context.Request.Headers["x-api-key"].ToString() != ApiKey)
        {
            await ErrorAsync(context, 401, "authentication_error", "invalid x-api-key");
            return;
        }

        if (string.IsNullOrEmpty(context.Request.Headers["anthropic-version"].ToString()))
        {
            await ErrorAsync(context, 400, "invalid_request_error", "anthropic-version: header is required");
            return;
        }

        if (context.Request.Method == "GET" && path == "/v1/models")
        {
            await WriteJsonAsync(context, 200, new
            {
                data = Models.Select(m => new { type = "model", id = m, display_name = m, created_at = "2025-05-22T00:00:00Z" }),
                has_more = false,
                first_id = Models.Count > 0 ? Models[0] : null,
                last_id = Models.Count > 0 ? Models[^1] : null,
            });
            return;
        }

        if (context.Request.Method != "POST" || path != "/v1/messages")
        {
            await ErrorAsync(context, 404, "not_found_error", "Not Found");
            return;
        }

        var request = ParseOrDefault(body);
        if (request.ValueKind != JsonValueKind.Object || !request.TryGetProperty("max_tokens", out _))
        {
            await ErrorAsync(context, 400, "invalid_request_error", "max_tokens: Field required");
            return;
        }

        var reply = await TakeReplyAsync(context);
        if (reply.Status != 200)
        {
            if (reply.RetryAfter is not null)
            {
                context.Response.Headers.RetryAfter = reply.RetryAfter;
            }

            var type = reply.Status switch { 429 => "rate_limit_error", 529 => "overloaded_error", >= 500 => "api_error", _ => "invalid_request_error" };
            await ErrorAsync(context, reply.Status, type, reply.ErrorMessage ?? (reply.Status == 429 ? "Number of request tokens has exceeded your per-minute rate limit" : "Internal server error"));
            return;
        }

        var model = ModelOf(request, "claude-sonnet-4-20250514");
        var id = $"msg_{Guid.NewGuid():N}";
        var text = reply.ToolCall is null ? reply.Text ?? DefaultText : reply.Text;
        var stop = reply.ToolCall is null ? "end_turn" : "tool_use";
        if (WantsStream(request))
        {
            await StreamAsync(context, reply, id, model, text, stop);
            return;
        }

        var content = new List<object>();
        if (text is not null)
        {
            content.Add(new { type = "text", text });
        }

        if (reply.ToolCall is { } call)
        {
            content.Add(new { type = "tool_use", id = "toolu_fake_0001", name = call.Name, input = JsonDocument.Parse(call.ArgumentsJson).RootElement });
        }

        var output = reply.OutputTokens ?? Math.Max(1, (text is null ? 0 : Pieces(text).Count) + (reply.ToolCall is null ? 0 : 5));
        await WriteJsonAsync(context, 200, new
        {
            id,
            type = "message",
            role = "assistant",
            model,
            content,
            stop_reason = stop,
            stop_sequence = (string?)null,
            usage = new { input_tokens = reply.InputTokens, output_tokens = output },
        });
    }

    private static async Task StreamAsync(HttpContext context, FakeReply reply, string id, string model, string? text, string stop)
    {
        StartEventStream(context);
        await SendAsync(context, "message_start", new
        {
            type = "message_start",
            message = new
            {
                id, type = "message", role = "assistant", model, content = Array.Empty<object>(), stop_reason = (string?)null, stop_sequence = (string?)null,
                usage = new { input_tokens = reply.InputTokens, output_tokens = 1 },
            },
        });
        var index = 0;
        var sent = 0;
        if (text is not null)
        {
            await SendAsync(context, "content_block_start", new { type = "content_block_start", index, content_block = new { type = "text", text = "" } });
            await SendAsync(context, "ping", new { type = "ping" });
            foreach (var piece in Pieces(text))
            {
                await SendAsync(context, "content_block_delta", new { type = "content_block_delta", index, delta = new { type = "text_delta", text = piece } });
                if (await PieceSentAsync(context, reply, ++sent))
                {
                    return;
                }
            }

            await SendAsync(context, "content_block_stop", new { type = "content_block_stop", index });
            index++;
        }

        if (reply.ToolCall is { } call)
        {
            await SendAsync(context, "content_block_start", new { type = "content_block_start", index, content_block = new { type = "tool_use", id = "toolu_fake_0001", name = call.Name, input = new { } } });
            foreach (var fragment in Fragments(call.ArgumentsJson))
            {
                await SendAsync(context, "content_block_delta", new { type = "content_block_delta", index, delta = new { type = "input_json_delta", partial_json = fragment } });
                if (await PieceSentAsync(context, reply, ++sent))
                {
                    return;
                }
            }

            await SendAsync(context, "content_block_stop", new { type = "content_block_stop", index });
        }

        var output = reply.OutputTokens ?? Math.Max(1, sent);
        await SendAsync(context, "message_delta", new { type = "message_delta", delta = new { stop_reason = stop, stop_sequence = (string?)null }, usage = new { output_tokens = output } });
        await SendAsync(context, "message_stop", new { type = "message_stop" });
    }

    private static Task SendAsync(HttpContext context, string name, object data) => WriteEventAsync(context, name, JsonSerializer.Serialize(data));

    private static Task ErrorAsync(HttpContext context, int status, string type, string message) =>
        WriteJsonAsync(context, status, new { type = "error", error = new { type, message } });
}
