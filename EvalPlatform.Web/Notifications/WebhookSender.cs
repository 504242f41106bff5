using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using EvalPlatform.Core.Notifications;
using EvalPlatform.Core.Webhooks;

namespace EvalPlatform.Web.Notifications;

/// <summary>
/// Outbound webhooks: POST <c>{"id", "type", "created_at", "team_id", "data"}</c> signed like inbound webhooks
/// (<see cref="WebhookSignature"/>: <c>X-EvalPlatform-Signature: t=…,v1=…</c>, HMAC-SHA256 over <c>t.body</c>, signed at
/// each attempt), with the event id in <c>X-EvalPlatform-Event-Id</c> for the receiver's idempotency. Any 2xx is
/// delivered; anything else is retried (a receiver that is down for hours gets it when it is back).
/// </summary>
public sealed class WebhookSender(HttpClient http, TimeProvider clock) : INotificationSender
{
    public const string EventIdHeader = "X-EvalPlatform-Event-Id";
    public const string EventTypeHeader = "X-EvalPlatform-Event-Type";

    public bool CanSend(ChannelType type) => type == ChannelType.Webhook;

    public async Task<SendOutcome> SendAsync(ChannelTarget target, StoredNotification notification, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(notification);
        var body = Encoding.UTF8.GetBytes(Body(notification).ToJsonString());
        using var request = new HttpRequestMessage(HttpMethod.Post, target.Url) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
        request.Headers.Add(WebhookSignature.HeaderName, WebhookSignature.Sign(target.Secret, clock.GetUtcNow().ToUnixTimeSeconds(), body));
        request.Headers.Add(EventIdHeader, notification.EventId.ToString());
        request.Headers.Add(EventTypeHeader, notification.Type);
        request.Headers.UserAgent.ParseAdd("EvalPlatform-Webhooks/1");
        using var response = await http.SendAsync(request, ct);
        if (response.IsSuccessStatusCode)
        {
            return SendOutcome.Ok((int)response.StatusCode);
        }

        var text = (await response.Content.ReadAsStringAsync(ct)).Trim();
        var error = $"HTTP {(int)response.StatusCode}{(text.Length > 0 ? ": " + SlackSender.Short(text) : "")}";
        return new SendOutcome(false, (int)response.StatusCode, error,
            response.StatusCode is HttpStatusCode.TooManyRequests or HttpStatusCode.ServiceUnavailable ? SlackSender.RetryAfter(response, clock) : null);
    }

    /// <summary>The JSON every outbound webhook carries (docs/api.md).</summary>
    public static JsonObject Body(StoredNotification n)
    {
        ArgumentNullException.ThrowIfNull(n);
        return new JsonObject
        {
            ["id"] = n.EventId.ToString(),
            ["type"] = n.Type,
            ["created_at"] = n.CreatedAt.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", System.Globalization.CultureInfo.InvariantCulture),
            ["team_id"] = n.TeamId.ToString(),
            ["data"] = n.Data.DeepClone(),
        };
    }
}
