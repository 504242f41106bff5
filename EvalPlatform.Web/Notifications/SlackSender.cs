using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using EvalPlatform.Core.Notifications;
using Microsoft.Extensions.Options;

namespace EvalPlatform.Web.Notifications;

/// <summary>
/// Slack over plain HTTP (no Slack SDK): incoming webhooks (POST the message to the webhook URL; <c>ok</c> or a text
/// error such as <c>invalid_payload</c>, <c>no_service</c>) and the Web API's <c>chat.postMessage</c> (bearer token;
/// HTTP 200 with <c>{"ok": false, "error": "channel_not_found"}</c> for its errors). 429 carries Retry-After; 5xx and
/// Slack's own transient errors are retried; everything else fails at once (fix the channel, then Redeliver).
/// </summary>
public sealed class SlackSender(HttpClient http, IOptionsMonitor<SlackOptions> slack, IOptionsMonitor<AppOptions> app, TimeProvider clock) : INotificationSender
{
    private static readonly HashSet<string> TransientErrors = new(StringComparer.Ordinal)
    {
        "ratelimited", "rate_limited", "internal_error", "fatal_error", "service_unavailable", "request_timeout",
    };

    public bool CanSend(ChannelType type) => ChannelTypes.IsSlack(type);

    public async Task<SendOutcome> SendAsync(ChannelTarget target, StoredNotification notification, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(notification);
        var message = SlackMessages.Build(notification, app.CurrentValue.Absolute(notification.Link));
        if (target.Type == ChannelType.SlackWebhook)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, target.Secret) { Content = Json(message) };
            using var response = await http.SendAsync(request, ct);
            var text = (await response.Content.ReadAsStringAsync(ct)).Trim();
            return response.IsSuccessStatusCode
                ? SendOutcome.Ok((int)response.StatusCode)
                : Failed(response, string.IsNullOrEmpty(text) ? $"HTTP {(int)response.StatusCode}" : Short(text));
        }

        message["channel"] = target.SlackChannel;
        using (var request = new HttpRequestMessage(HttpMethod.Post, new Uri(new Uri(slack.CurrentValue.ApiBaseUrl.TrimEnd('/') + "/"), "chat.postMessage")) { Content = Json(message) })
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", target.Secret);
            using var response = await http.SendAsync(request, ct);
            var body = await response.Content.ReadAsStringAsync(ct);
            if (!response.IsSuccessStatusCode)
            {
                return Failed(response, ErrorOf(body) ?? $"HTTP {(int)response.StatusCode}");
            }

            JsonNode? json = null;
            try
            {
                json = JsonNode.Parse(body);
            }
            catch (JsonException)
            {
                // Not JSON: reported below.
            }

            if (json?["ok"]?.GetValueKind() == JsonValueKind.True)
            {
                return SendOutcome.Ok((int)response.StatusCode);
            }

            var error = ErrorOf(body) ?? $"Unexpected answer: {Short(body)}";
            return new SendOutcome(false, (int)response.StatusCode, error, Permanent: !TransientErrors.Contains(error));
        }
    }

    private SendOutcome Failed(HttpResponseMessage response, string error)
    {
        var code = (int)response.StatusCode;
        var transient = response.StatusCode == HttpStatusCode.TooManyRequests || code >= 500 || TransientErrors.Contains(error);
        return new SendOutcome(false, code, error, RetryAfter(response, clock), Permanent: !transient);
    }

    private static string? ErrorOf(string body)
    {
        try
        {
            return JsonNode.Parse(body)?["error"]?.GetValue<string>();
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            return null;
        }
    }

    internal static TimeSpan? RetryAfter(HttpResponseMessage response, TimeProvider clock) =>
        response.Headers.RetryAfter switch
        {
            { Delta: { } delta } => delta,
            { Date: { } date } => date - clock.GetUtcNow() is var wait && wait > TimeSpan.Zero ? wait : TimeSpan.Zero,
            _ => null,
        };

    internal static string Short(string text) => text.Length <= 300 ? text : text[..299] + "…";

    private static StringContent Json(JsonObject message) => new(message.ToJsonString(), Encoding.UTF8, "application/json");
}

/// <summary>Block Kit messages for notifications: a header, the text, a field or two, and a link back.</summary>
public static class SlackMessages
{
    public static JsonObject Build(StoredNotification n, string? link)
    {
        ArgumentNullException.ThrowIfNull(n);
        if (n.Type == NotificationEventTypes.DailyDigest)
        {
            return SlackDigest.Build(n, link);
        }

        var blocks = new JsonArray
        {
            new JsonObject
            {
                ["type"] = "header",
                ["text"] = new JsonObject { ["type"] = "plain_text", ["text"] = Clip($"{Icon(n.Severity)} {n.Title}", 150), ["emoji"] = true },
            },
            new JsonObject { ["type"] = "section", ["text"] = Mrkdwn(Clip(Escape(n.Text), 3_000)) },
        };

        var fields = Fields(n);
        if (fields.Count > 0)
        {
            blocks.Add(new JsonObject { ["type"] = "section", ["fields"] = fields });
        }

        if (link is not null)
        {
            blocks.Add(new JsonObject
            {
                ["type"] = "context",
                ["elements"] = new JsonArray { Mrkdwn($"<{link}|{LinkText(n.Type)}>") },
            });
        }

        return new JsonObject
        {
            // The plain text is what Slack shows in notifications and where blocks cannot be rendered.
            ["text"] = Clip($"{n.Title}: {n.Text}", 3_000),
            ["blocks"] = blocks,
        };
    }

    private static JsonArray Fields(StoredNotification n)
    {
        var fields = new JsonArray();
        void Add(string label, string? value)
        {
            if (!string.IsNullOrWhiteSpace(value))
            {
                fields.Add(Mrkdwn($"*{label}*\n{Clip(Escape(value), 500)}"));
            }
        }

        switch (n.Type)
        {
            case NotificationEventTypes.TraceReviewed:
                Add("Status", Text(n.Data["status"]));
                Add("Reason", Text(n.Data["reason_label"]) ?? Text(n.Data["reason"]));
                Add("Detail", Text(n.Data["detail"]));
                Add("Reviewed by", Text(n.Data["reviewed_by"]));
                break;
            case NotificationEventTypes.AlertFiring or NotificationEventTypes.AlertResolved:
                // As people read them (60 %, 1.20 s), from events that carry them; raw numbers otherwise.
                Add("Value", Text(n.Data["value_text"]) ?? Text(n.Data["value"]));
                Add("Threshold", Text(n.Data["threshold_text"]) ?? Text(n.Data["threshold"]));
                Add("Severity", n.Severity.ToString());
                break;
            case NotificationEventTypes.QueueCompleted:
                Add("Queue", Text(n.Data["queue_name"]));
                Add("Items", Text(n.Data["items"]));
                break;
        }

        return fields;
    }

    private static string? Text(JsonNode? node) => node is null ? null : node.GetValueKind() == JsonValueKind.String ? node.GetValue<string>() : node.ToJsonString();

    private static string LinkText(string type) => type switch
    {
        NotificationEventTypes.TraceReviewed or NotificationEventTypes.TraceCreated => "Open the trace in EvalPlatform",
        NotificationEventTypes.QueueCompleted => "Open the queue in EvalPlatform",
        _ => "Open in EvalPlatform",
    };

    private static string Icon(NotificationSeverity severity) => severity switch
    {
        NotificationSeverity.Critical => ":rotating_light:",
        NotificationSeverity.Warning => ":warning:",
        _ => ":bell:",
    };

    internal static JsonObject Mrkdwn(string text) => new() { ["type"] = "mrkdwn", ["text"] = text };

    /// <summary>Slack's three control characters in mrkdwn.</summary>
    public static string Escape(string text) => text.Replace("&", "&amp;", StringComparison.Ordinal).Replace("<", "&lt;", StringComparison.Ordinal).Replace(">", "&gt;", StringComparison.Ordinal);

    internal static string Clip(string text, int max) => text.Length <= max ? text : text[..(max - 1)] + "…";
}
