using System.Text.Json.Nodes;
using EvalPlatform.Core.Providers.Proxy;

namespace EvalPlatform.Web.Providers;

/// <summary>
/// The proxy's own refusals, in the shape the caller's SDK reads (OpenAI's <c>{"error":{"message","type","param","code"}}</c>,
/// Anthropic's <c>{"type":"error","error":{"type","message"}}</c>) and, in the same body, an RFC 7807 problem naming the
/// field (<c>title</c>, <c>status</c>, <c>detail</c>, <c>errors</c>), so both an SDK and a plain HTTP client read it.
/// </summary>
public static class ProxyErrors
{
    public static async Task WriteAsync(
        HttpContext context, ProxyProtocol protocol, int status, string type, string message, string? field = null, TimeSpan? retryAfter = null)
    {
        var body = new JsonObject();
        if (protocol == ProxyProtocol.AnthropicMessages)
        {
            body["type"] = "error";
            body["error"] = new JsonObject { ["type"] = type, ["message"] = message };
        }
        else
        {
            body["type"] = "about:blank";
            body["error"] = new JsonObject { ["message"] = message, ["type"] = type, ["param"] = field, ["code"] = type };
        }

        body["title"] = Title(status);
        body["status"] = status;
        body["detail"] = message;
        if (field is not null)
        {
            body["errors"] = new JsonObject { [field] = new JsonArray(message) };
        }

        if (retryAfter is { } wait)
        {
            context.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        context.Response.StatusCode = status;
        context.Response.ContentType = "application/problem+json";
        await context.Response.WriteAsync(body.ToJsonString(), context.RequestAborted);
    }

    private static string Title(int status) => status switch
    {
        400 => "Invalid request",
        404 => "Not found",
        429 => "Too many requests",
        502 => "Bad gateway",
        _ => "Error",
    };
}
