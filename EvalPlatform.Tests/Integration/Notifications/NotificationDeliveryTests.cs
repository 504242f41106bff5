using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using EvalPlatform.Core.Teams;
using EvalPlatform.Tests.Infrastructure;

namespace EvalPlatform.Tests.Integration.Notifications;

/// <summary>
/// The outbox end to end on a controlled clock: a review commits its notification, the deliverer sends it to the local
/// fake Slack / webhook receiver in their documented shapes, retries 429 (Retry-After) and 500 (backoff) until 24 hours
/// have passed, fails at once on Slack's permanent errors, and one team's hanging receiver does not hold up another's.
/// </summary>
public abstract class NotificationDeliveryTests(NotificationAppFactory app)
{
    private FakeReceiver Receiver => app.Receiver;

    private async Task<ApiClient> TeamAsync() =>
        (await ApiClient.ForNewTeamAsync(app, ApiKeyScopes.Admin | ApiKeyScopes.Ingest | ApiKeyScopes.Read | ApiKeyScopes.Review)).Client;

    private static async Task<JsonElement> JsonAsync(HttpResponseMessage response, HttpStatusCode expected)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"{(int)response.StatusCode}: {body}");
        return body.Length == 0 ? default : JsonDocument.Parse(body).RootElement.Clone();
    }

    private static async Task<Guid> ChannelAsync(ApiClient api, object channel)
    {
        var created = await JsonAsync(await api.PostJsonAsync("/api/v1/notification-channels", channel), HttpStatusCode.Created);
        return created.GetProperty("channel").GetProperty("id").GetGuid();
    }

    private static async Task<Guid> RejectedTraceAsync(ApiClient api, string reason = "hallucination", string name = "refund answer")
    {
        var id = await api.PostTraceAsync(new { name, user_input = "Where is my refund?", response = "It was sent yesterday.", model = "gpt-4o" });
        await JsonAsync(await api.PostJsonAsync($"/api/v1/traces/{id}/review", new { action = "reject", reason, detail = "Invents a refund date." }), HttpStatusCode.OK);
        return id;
    }

    private static async Task<JsonElement> DeliveriesAsync(ApiClient api, Guid channelId) =>
        (await api.GetJsonAsync($"/api/v1/notification-channels/{channelId}/deliveries")).GetProperty("items");

    [Fact]
    public async Task RejectedTrace_ReachesTheSlackBot_AsBlockKit_WithReasonAndLink()
    {
        using var api = await TeamAsync();
        var channel = await ChannelAsync(api, new
        {
            name = "#quality", type = "slack_bot", token = FakeReceiver.BotToken, channel = "#quality-alerts",
            event_types = new[] { "trace.reviewed" }, rejected_only = true,
        });
        var before = Receiver.To("/api/chat.postMessage").Count;
        var traceId = await RejectedTraceAsync(api);
        var accepted = await api.PostTraceAsync(new { name = "fine", user_input = "hi", response = "hello" });
        await JsonAsync(await api.PostJsonAsync($"/api/v1/traces/{accepted}/review", new { action = "accept" }), HttpStatusCode.OK);

        var pending = await DeliveriesAsync(api, channel);
        Assert.Equal("pending", Assert.Single(pending.EnumerateArray()).GetProperty("status").GetString());

        await app.DeliverAsync();

        var sent = (await Receiver.WaitForAsync("/api/chat.postMessage", before + 1))[^1];
        Assert.Equal($"Bearer {FakeReceiver.BotToken}", sent.Headers["Authorization"]);
        var message = JsonDocument.Parse(sent.Body).RootElement;
        Assert.Equal("#quality-alerts", message.GetProperty("channel").GetString());
        Assert.Contains("Hallucination", message.GetProperty("text").GetString(), StringComparison.Ordinal);
        var blocks = message.GetProperty("blocks").EnumerateArray().ToList();
        Assert.Equal("header", blocks[0].GetProperty("type").GetString());
        Assert.Equal("plain_text", blocks[0].GetProperty("text").GetProperty("type").GetString());
        Assert.Contains(blocks, b => b.GetProperty("type").GetString() == "section" && b.TryGetProperty("fields", out var f)
            && f.EnumerateArray().Any(x => x.GetProperty("text").GetString()!.Contains("*Reason*\nHallucination", StringComparison.Ordinal)));
        var context = blocks.Single(b => b.GetProperty("type").GetString() == "context");
        Assert.Contains($"<{NotificationAppFactory.PublicBaseUrl}/traces/{traceId}|", context.GetProperty("elements")[0].GetProperty("text").GetString(), StringComparison.Ordinal);

        var delivered = Assert.Single((await DeliveriesAsync(api, channel)).EnumerateArray());
        Assert.Equal("delivered", delivered.GetProperty("status").GetString());
        Assert.Equal(1, delivered.GetProperty("attempts").GetInt32());
        Assert.Equal(200, delivered.GetProperty("response_code").GetInt32());
        // Nothing is sent twice.
        await app.DeliverAsync();
        Assert.Equal(before + 1, Receiver.To("/api/chat.postMessage").Count);
    }

    [Fact]
    public async Task Slack429_IsRetriedAfterItsRetryAfter_AndNotBefore()
    {
        using var api = await TeamAsync();
        const string path = "/api/chat.postMessage";
        var channel = await ChannelAsync(api, new { name = "bot", type = "slack_bot", token = FakeReceiver.BotToken, channel = "#ops", event_types = new[] { "trace.reviewed" } });
        var before = Receiver.To(path).Count;
        Receiver.Script(path, 429, """{"ok":false,"error":"ratelimited"}""", "application/json", retryAfter: "120");
        await RejectedTraceAsync(api);

        await app.DeliverAsync();
        var first = Assert.Single((await DeliveriesAsync(api, channel)).EnumerateArray());
        Assert.Equal("pending", first.GetProperty("status").GetString());
        Assert.Equal(429, first.GetProperty("response_code").GetInt32());
        Assert.Equal("ratelimited", first.GetProperty("last_error").GetString());
        var next = first.GetProperty("next_attempt_at").GetDateTimeOffset();
        var now = app.Clock.GetUtcNow();
        Assert.InRange(next - now, TimeSpan.FromSeconds(119), TimeSpan.FromSeconds(121));

        // Other tests' rows share the database: this channel's row is what is checked.
        app.Clock.Advance(TimeSpan.FromSeconds(60));
        await app.DeliverAsync();
        Assert.Equal(1, Assert.Single((await DeliveriesAsync(api, channel)).EnumerateArray()).GetProperty("attempts").GetInt32());
        Assert.Equal(before + 1, Receiver.To(path).Count);
        app.Clock.Advance(TimeSpan.FromSeconds(61));
        await app.DeliverAsync();

        var done = Assert.Single((await DeliveriesAsync(api, channel)).EnumerateArray());
        Assert.Equal("delivered", done.GetProperty("status").GetString());
        Assert.Equal(2, done.GetProperty("attempts").GetInt32());
        Assert.Equal(before + 2, Receiver.To(path).Count);
    }

    [Fact]
    public async Task Receiver500_IsRetriedWithGrowingDelays_ThenFailedAfter24Hours()
    {
        using var api = await TeamAsync();
        var hook = $"/hooks/{Guid.NewGuid():N}";
        for (var i = 0; i < 100; i++)
        {
            Receiver.Script(hook, 500, "upstream exploded");
        }

        var channel = await ChannelAsync(api, new { name = "down", type = "webhook", url = new Uri(Receiver.Address, hook).ToString(), event_types = new[] { "trace.reviewed" } });
        var created = app.Clock.GetUtcNow();
        await RejectedTraceAsync(api);

        var delays = new List<TimeSpan>();
        JsonElement row = default;
        for (var run = 0; run < 60; run++)
        {
            await app.DeliverAsync();
            row = Assert.Single((await DeliveriesAsync(api, channel)).EnumerateArray());
            if (row.GetProperty("status").GetString() != "pending")
            {
                break;
            }

            var wait = row.GetProperty("next_attempt_at").GetDateTimeOffset() - app.Clock.GetUtcNow();
            delays.Add(wait);
            app.Clock.Advance(wait);
        }

        Assert.Equal("failed", row.GetProperty("status").GetString());
        Assert.Equal(500, row.GetProperty("response_code").GetInt32());
        Assert.Equal("HTTP 500: upstream exploded", row.GetProperty("last_error").GetString());
        Assert.Equal(delays.Count + 1, row.GetProperty("attempts").GetInt32());
        Assert.Equal(row.GetProperty("attempts").GetInt32(), Receiver.To(hook).Count);
        // Exponential with equal jitter: each step within [half, whole] of 15 s × 2^n, capped at an hour.
        for (var n = 0; n < delays.Count; n++)
        {
            var step = Math.Min(15 * Math.Pow(2, n), 3600);
            Assert.InRange(delays[n].TotalSeconds, (step / 2) - 1, step + 1);
        }

        // Given up only once the next try would be past 24 hours.
        Assert.InRange(app.Clock.GetUtcNow() - created, TimeSpan.FromHours(23), TimeSpan.FromHours(25));
    }

    [Fact]
    public async Task SlackPermanentErrors_FailAtOnce_AndShowOnTheChannel()
    {
        using var api = await TeamAsync();
        var missing = await ChannelAsync(api, new { name = "missing", type = "slack_bot", token = FakeReceiver.BotToken, channel = "#missing", event_types = new[] { "trace.reviewed" } });
        var badToken = await ChannelAsync(api, new { name = "bad token", type = "slack_bot", token = "xoxb-revoked", channel = "#ops", event_types = new[] { "trace.reviewed" } });
        var noService = await ChannelAsync(api, new { name = "gone hook", type = "slack_webhook", url = new Uri(Receiver.Address, "/services/T0/B0/deleted").ToString(), event_types = new[] { "trace.reviewed" } });
        var badPayload = await ChannelAsync(api, new { name = "picky hook", type = "slack_webhook", url = Receiver.SlackWebhookUrl, event_types = new[] { "trace.reviewed" } });
        Receiver.Script(new Uri(Receiver.SlackWebhookUrl).AbsolutePath, 400, "invalid_payload");
        await RejectedTraceAsync(api);

        await app.DeliverAsync();

        foreach (var (id, code, error) in new[] { (missing, 200, "channel_not_found"), (badToken, 200, "invalid_auth"), (noService, 404, "no_service"), (badPayload, 400, "invalid_payload") })
        {
            var row = Assert.Single((await DeliveriesAsync(api, id)).EnumerateArray());
            Assert.Equal("failed", row.GetProperty("status").GetString());
            Assert.Equal(1, row.GetProperty("attempts").GetInt32());
            Assert.Equal(code, row.GetProperty("response_code").GetInt32());
            Assert.Equal(error, row.GetProperty("last_error").GetString());
            Assert.Equal(error, (await api.GetJsonAsync($"/api/v1/notification-channels/{id}")).GetProperty("last_error").GetString());
        }
    }

    [Fact]
    public async Task SlackIncomingWebhook_GetsTheMessage_AndRedeliverSendsTheSameEventAgain()
    {
        using var api = await TeamAsync();
        var path = new Uri(Receiver.SlackWebhookUrl).AbsolutePath;
        var channel = await ChannelAsync(api, new { name = "hook", type = "slack_webhook", url = Receiver.SlackWebhookUrl, event_types = new[] { "trace.reviewed" } });
        var before = Receiver.To(path).Count;
        await RejectedTraceAsync(api);
        await app.DeliverAsync();
        var sent = (await Receiver.WaitForAsync(path, before + 1))[^1];
        Assert.False(sent.Headers.ContainsKey("Authorization"));
        Assert.Equal("header", JsonDocument.Parse(sent.Body).RootElement.GetProperty("blocks")[0].GetProperty("type").GetString());

        var first = Assert.Single((await DeliveriesAsync(api, channel)).EnumerateArray());
        var again = await JsonAsync(await api.Http.PostAsync($"/api/v1/notification-channels/{channel}/deliveries/{first.GetProperty("id").GetGuid()}/redeliver", null), HttpStatusCode.Accepted);
        Assert.Equal(first.GetProperty("event_id").GetGuid(), again.GetProperty("event_id").GetGuid());
        await app.DeliverAsync();
        await Receiver.WaitForAsync(path, before + 2);
        Assert.All((await DeliveriesAsync(api, channel)).EnumerateArray(), d => Assert.Equal("delivered", d.GetProperty("status").GetString()));
    }

    [Fact]
    public async Task OutboundWebhook_IsSignedAsTheDocsSay_WithTheEventIdForIdempotency()
    {
        using var api = await TeamAsync();
        var hook = $"/hooks/{Guid.NewGuid():N}";
        var created = await JsonAsync(await api.PostJsonAsync("/api/v1/notification-channels",
            new { name = "crm", type = "webhook", url = new Uri(Receiver.Address, hook).ToString(), event_types = new[] { "trace.reviewed" } }), HttpStatusCode.Created);
        var secret = created.GetProperty("secret").GetString()!;
        Assert.StartsWith("whsec_", secret, StringComparison.Ordinal);
        var traceId = await RejectedTraceAsync(api);
        await app.DeliverAsync();

        var request = Assert.Single(await Receiver.WaitForAsync(hook));
        // The receiver from docs/api.md: parse t and v1, HMAC-SHA256 over "<t>.<raw body>" with the secret, compare, check the age.
        var header = request.Headers["X-EvalPlatform-Signature"];
        var parts = header.Split(',').Select(p => p.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);
        var t = long.Parse(parts["t"], CultureInfo.InvariantCulture);
        var expected = Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), (byte[])[.. Encoding.ASCII.GetBytes($"{t}."), .. request.RawBody]));
        Assert.True(CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(expected), Encoding.ASCII.GetBytes(parts["v1"])), header);
        Assert.InRange(Math.Abs(app.Clock.GetUtcNow().ToUnixTimeSeconds() - t), 0, 300);

        var body = JsonDocument.Parse(request.Body).RootElement;
        Assert.Equal(request.Headers["X-EvalPlatform-Event-Id"], body.GetProperty("id").GetString());
        Assert.Equal("trace.reviewed", body.GetProperty("type").GetString());
        Assert.Equal("trace.reviewed", request.Headers["X-EvalPlatform-Event-Type"]);
        Assert.True(body.TryGetProperty("created_at", out _));
        Assert.True(Guid.TryParse(body.GetProperty("team_id").GetString(), out _));
        var data = body.GetProperty("data");
        Assert.Equal(traceId.ToString(), data.GetProperty("trace_id").GetString());
        Assert.Equal("rejected", data.GetProperty("status").GetString());
        Assert.Equal("hallucination", data.GetProperty("reason").GetString());

        // A tampered body fails the same check.
        var tampered = Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes($"{t}.{request.Body.Replace("rejected", "accepted", StringComparison.Ordinal)}")));
        Assert.NotEqual(parts["v1"], tampered);
    }

    [Fact]
    public async Task TraceCreated_ReachesASubscribedWebhook_FromTheIngestionGroupCommit()
    {
        using var api = await TeamAsync();
        var hook = $"/hooks/created-{Guid.NewGuid():N}";
        var channel = await ChannelAsync(api, new { name = "lake", type = "webhook", url = new Uri(Receiver.Address, hook).ToString(), event_types = new[] { "trace.created" } });
        var batch = await api.PostJsonAsync("/api/v1/traces/batch", new
        {
            traces = new[]
            {
                new { external_id = $"a-{Guid.NewGuid():N}", user_input = "one", response = "1" },
                new { external_id = $"b-{Guid.NewGuid():N}", user_input = "two", response = "2" },
            },
        });
        Assert.True(batch.IsSuccessStatusCode, await batch.Content.ReadAsStringAsync());

        Assert.Equal(2, (await DeliveriesAsync(api, channel)).GetArrayLength());
        await app.DeliverAsync();
        var received = await Receiver.WaitForAsync(hook, 2);
        Assert.All(received, r => Assert.Equal("trace.created", JsonDocument.Parse(r.Body).RootElement.GetProperty("type").GetString()));
        Assert.Equal(2, received.Select(r => JsonDocument.Parse(r.Body).RootElement.GetProperty("data").GetProperty("trace_id").GetString()).Distinct().Count());
    }

    [Fact]
    public async Task OneTeamsHangingReceiver_DoesNotHoldUpAnotherTeamsDelivery_AndTimesOut()
    {
        using var slowTeam = await TeamAsync();
        using var fastTeam = await TeamAsync();
        var slowHook = $"/hooks/slow-{Guid.NewGuid():N}";
        var fastHook = $"/hooks/fast-{Guid.NewGuid():N}";
        var slow = await ChannelAsync(slowTeam, new { name = "slow", type = "webhook", url = new Uri(Receiver.Address, slowHook).ToString(), event_types = new[] { "trace.reviewed" } });
        var fast = await ChannelAsync(fastTeam, new { name = "fast", type = "webhook", url = new Uri(Receiver.Address, fastHook).ToString(), event_types = new[] { "trace.reviewed" } });
        _ = Receiver.Hold(slowHook); // never released: only the timeout ends it
        await RejectedTraceAsync(slowTeam);
        await RejectedTraceAsync(fastTeam);

        var run = app.DeliverAsync();
        await Receiver.WaitForAsync(slowHook);
        await Receiver.WaitForAsync(fastHook);
        // The fast team's row is recorded while the slow send is still hanging.
        await Wait.UntilAsync(async () =>
        {
            Assert.False(run.IsCompleted, "The run ended before the fast delivery was recorded.");
            return (await DeliveriesAsync(fastTeam, fast))[0].GetProperty("status").GetString() == "delivered";
        }, "the fast team's delivery to be recorded while the slow one hangs", TimeSpan.FromSeconds(10));

        Assert.False(run.IsCompleted);
        var result = await run;
        Assert.True(result.Delivered >= 1);
        var timedOut = (await DeliveriesAsync(slowTeam, slow))[0];
        Assert.Equal("pending", timedOut.GetProperty("status").GetString());
        Assert.Equal("No answer within 5 s.", timedOut.GetProperty("last_error").GetString());
    }
}

public sealed class PostgresNotificationDeliveryTests(NotificationPostgresAppFactory app) : NotificationDeliveryTests(app), IClassFixture<NotificationPostgresAppFactory>;

public sealed class SqliteNotificationDeliveryTests(NotificationSqliteAppFactory app) : NotificationDeliveryTests(app), IClassFixture<NotificationSqliteAppFactory>;
