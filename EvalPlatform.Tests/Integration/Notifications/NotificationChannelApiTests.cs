using System.Net;
using System.Text.Json;
using EvalPlatform.Core.Teams;
using EvalPlatform.Tests.Infrastructure;

namespace EvalPlatform.Tests.Integration.Notifications;

/// <summary>
/// <c>/api/v1/notification-channels</c>: scopes (read lists, admin manages), secrets never returned (a webhook's once),
/// 400s naming the field, and no channel or delivery crossing teams.
/// </summary>
public abstract class NotificationChannelApiTests(NotificationAppFactory app)
{
    private const string Channels = "/api/v1/notification-channels";

    private static async Task<JsonElement> ProblemAsync(HttpResponseMessage response, HttpStatusCode expected)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"{(int)response.StatusCode}: {body}");
        return body.Length == 0 ? default : JsonDocument.Parse(body).RootElement.Clone();
    }

    private static object Bot(string token = FakeReceiver.BotToken) =>
        new { name = "#alerts", type = "slack_bot", token, channel = "#alerts", event_types = new[] { "trace.reviewed", "queue.completed" }, rejected_only = true, rejection_reasons = new[] { "hallucination" } };

    [Fact]
    public async Task Create_WithAnAdminKey_ListsWithoutSecrets_AndAReadKeyMayOnlyList()
    {
        var (admin, team) = await ApiClient.ForNewTeamAsync(app, ApiKeyScopes.Admin);
        using var _admin = admin;
        using var reader = await ApiClient.ForTeamAsync(app, team.Id, ApiKeyScopes.Read);
        const string token = "xoxb-very-secret-token-1234";

        var created = await ProblemAsync(await admin.PostJsonAsync(Channels, Bot(token)), HttpStatusCode.Created);
        Assert.Equal(JsonValueKind.Null, created.GetProperty("secret").ValueKind);
        var channel = created.GetProperty("channel");
        Assert.Equal("slack_bot", channel.GetProperty("type").GetString());
        Assert.Equal("1234", channel.GetProperty("secret_hint").GetString());
        Assert.Equal(["hallucination"], channel.GetProperty("rejection_reasons").EnumerateArray().Select(r => r.GetString()));

        var listed = await reader.Http.GetStringAsync(Channels);
        Assert.DoesNotContain(token, listed, StringComparison.Ordinal);
        Assert.Contains("#alerts", listed, StringComparison.Ordinal);
        await ProblemAsync(await reader.PostJsonAsync(Channels, Bot()), HttpStatusCode.Forbidden);
        await ProblemAsync(await reader.Http.DeleteAsync($"{Channels}/{channel.GetProperty("id").GetGuid()}"), HttpStatusCode.Forbidden);

        var webhook = await ProblemAsync(await admin.PostJsonAsync(Channels,
            new { name = "crm", type = "webhook", url = app.Receiver.HookUrl("crm"), secret = "my-own-signing-secret-123", event_types = new[] { "alert.firing" } }), HttpStatusCode.Created);
        Assert.Equal("my-own-signing-secret-123", webhook.GetProperty("secret").GetString());
        Assert.DoesNotContain("my-own-signing-secret-123", await reader.Http.GetStringAsync(Channels), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"type":"slack_bot","token":"xoxb-1","channel":"#a","event_types":["trace.reviewed"]}""", "name")]
    [InlineData("""{"name":"x","type":"teams","event_types":["trace.reviewed"]}""", "type")]
    [InlineData("""{"name":"x","type":"slack_bot","channel":"#a","event_types":["trace.reviewed"]}""", "token")]
    [InlineData("""{"name":"x","type":"slack_bot","token":"xoxb-1","event_types":["trace.reviewed"]}""", "channel")]
    [InlineData("""{"name":"x","type":"slack_webhook","event_types":["trace.reviewed"]}""", "url")]
    [InlineData("""{"name":"x","type":"webhook","url":"ftp://example.com/x","event_types":["trace.reviewed"]}""", "url")]
    [InlineData("""{"name":"x","type":"webhook","url":"https://example.com/x","secret":"short","event_types":["trace.reviewed"]}""", "secret")]
    [InlineData("""{"name":"x","type":"webhook","url":"https://example.com/x","event_types":[]}""", "event_types")]
    [InlineData("""{"name":"x","type":"webhook","url":"https://example.com/x","event_types":["trace.deleted"]}""", "event_types")]
    [InlineData("""{"name":"x","type":"slack_bot","token":"xoxb-1","channel":"#a","event_types":["trace.reviewed"],"rejected_only":true,"rejection_reasons":["no_such_reason"]}""", "rejection_reasons")]
    public async Task Create_WithABadField_Answers400NamingIt(string body, string field)
    {
        var (admin, _) = await ApiClient.ForNewTeamAsync(app, ApiKeyScopes.Admin);
        using var _admin = admin;
        var problem = await ProblemAsync(await admin.PostJsonAsync(Channels, body), HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
    }

    [Fact]
    public async Task NoChannelOrDelivery_CrossesTeams()
    {
        var (mine, _) = await ApiClient.ForNewTeamAsync(app, ApiKeyScopes.Admin | ApiKeyScopes.Ingest | ApiKeyScopes.Review);
        var (theirs, _) = await ApiClient.ForNewTeamAsync(app, ApiKeyScopes.Admin | ApiKeyScopes.Read);
        using var _mine = mine;
        using var _theirs = theirs;
        var created = await ProblemAsync(await mine.PostJsonAsync(Channels,
            new { name = "mine", type = "webhook", url = app.Receiver.HookUrl("isolation"), event_types = new[] { "trace.reviewed" } }), HttpStatusCode.Created);
        var id = created.GetProperty("channel").GetProperty("id").GetGuid();
        var trace = await mine.PostTraceAsync(new { user_input = "q", response = "a" });
        await ProblemAsync(await mine.PostJsonAsync($"/api/v1/traces/{trace}/review", new { action = "reject", reason = "hallucination" }), HttpStatusCode.OK);
        var delivery = (await mine.GetJsonAsync($"{Channels}/{id}/deliveries")).GetProperty("items")[0].GetProperty("id").GetGuid();

        Assert.Empty((await theirs.GetJsonAsync(Channels)).GetProperty("items").EnumerateArray());
        await ProblemAsync(await theirs.Http.GetAsync($"{Channels}/{id}"), HttpStatusCode.NotFound);
        await ProblemAsync(await theirs.Http.GetAsync($"{Channels}/{id}/deliveries"), HttpStatusCode.NotFound);
        await ProblemAsync(await theirs.Http.PostAsync($"{Channels}/{id}/deliveries/{delivery}/redeliver", null), HttpStatusCode.NotFound);
        await ProblemAsync(await theirs.Http.PostAsync($"{Channels}/{id}/test", null), HttpStatusCode.NotFound);
        await ProblemAsync(await theirs.PutJsonAsync($"{Channels}/{id}", new { name = "stolen", event_types = new[] { "trace.reviewed" } }), HttpStatusCode.NotFound);
        await ProblemAsync(await theirs.Http.DeleteAsync($"{Channels}/{id}"), HttpStatusCode.NotFound);
        Assert.Equal("mine", (await mine.GetJsonAsync($"{Channels}/{id}")).GetProperty("name").GetString());
    }

    [Fact]
    public async Task SendTestMessage_ReachesTheFakeSlack_AndReportsSlacksError()
    {
        var (admin, _) = await ApiClient.ForNewTeamAsync(app, ApiKeyScopes.Admin);
        using var _admin = admin;
        var good = (await ProblemAsync(await admin.PostJsonAsync(Channels, new { name = "ok", type = "slack_bot", token = FakeReceiver.BotToken, channel = "#test", event_types = new[] { "alert.firing" } }), HttpStatusCode.Created))
            .GetProperty("channel").GetProperty("id").GetGuid();
        var bad = (await ProblemAsync(await admin.PostJsonAsync(Channels, new { name = "missing", type = "slack_bot", token = FakeReceiver.BotToken, channel = "#missing", event_types = new[] { "alert.firing" } }), HttpStatusCode.Created))
            .GetProperty("channel").GetProperty("id").GetGuid();

        var ok = await ProblemAsync(await admin.Http.PostAsync($"{Channels}/{good}/test", null), HttpStatusCode.OK);
        Assert.True(ok.GetProperty("delivered").GetBoolean());
        var failed = await ProblemAsync(await admin.Http.PostAsync($"{Channels}/{bad}/test", null), HttpStatusCode.OK);
        Assert.False(failed.GetProperty("delivered").GetBoolean());
        Assert.Equal("channel_not_found", failed.GetProperty("error").GetString());
        Assert.Equal("channel_not_found", (await admin.GetJsonAsync($"{Channels}/{bad}")).GetProperty("last_error").GetString());
    }

    [Fact]
    public async Task Update_KeepsTheSecretWhenLeftOut_AndDeleteRemovesTheChannel()
    {
        var (admin, _) = await ApiClient.ForNewTeamAsync(app, ApiKeyScopes.Admin);
        using var _admin = admin;
        var id = (await ProblemAsync(await admin.PostJsonAsync(Channels, new { name = "bot", type = "slack_bot", token = FakeReceiver.BotToken, channel = "#one", event_types = new[] { "alert.firing" } }), HttpStatusCode.Created))
            .GetProperty("channel").GetProperty("id").GetGuid();
        var updated = await ProblemAsync(await admin.PutJsonAsync($"{Channels}/{id}", new { name = "renamed", channel = "#two", event_types = new[] { "alert.firing", "alert.resolved" } }), HttpStatusCode.OK);
        Assert.Equal("renamed", updated.GetProperty("name").GetString());
        Assert.Equal("#two", updated.GetProperty("channel").GetString());
        Assert.True((await ProblemAsync(await admin.Http.PostAsync($"{Channels}/{id}/test", null), HttpStatusCode.OK)).GetProperty("delivered").GetBoolean());
        await ProblemAsync(await admin.PutJsonAsync($"{Channels}/{id}", new { name = "x", type = "webhook", event_types = new[] { "alert.firing" } }), HttpStatusCode.BadRequest);

        await ProblemAsync(await admin.Http.DeleteAsync($"{Channels}/{id}"), HttpStatusCode.NoContent);
        await ProblemAsync(await admin.Http.GetAsync($"{Channels}/{id}"), HttpStatusCode.NotFound);
    }
}

public sealed class PostgresNotificationChannelApiTests(NotificationPostgresAppFactory app) : NotificationChannelApiTests(app), IClassFixture<NotificationPostgresAppFactory>;

public sealed class SqliteNotificationChannelApiTests(NotificationSqliteAppFactory app) : NotificationChannelApiTests(app), IClassFixture<NotificationSqliteAppFactory>;
