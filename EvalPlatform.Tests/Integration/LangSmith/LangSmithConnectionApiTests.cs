using System.Net;
using System.Text.Json;
using EvalPlatform.Core.Teams;
using EvalPlatform.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace EvalPlatform.Tests.Integration.LangSmith;

/// <summary>
/// <c>/api/v1/integrations/langsmith</c>: admin scope only, the key encrypted and never returned, projects resolved
/// against LangSmith's own list (by name or id), 400s naming the field (LangSmith's refusal of the key included), test,
/// change, pause/resume/sync now, delete, audit entries, and nothing across teams.
/// </summary>
public abstract class LangSmithConnectionApiTests(LangSmithConnectorAppFactory app)
{
    private const string Route = "/api/v1/integrations/langsmith";

    private static async Task<JsonElement> ExpectAsync(HttpResponseMessage response, HttpStatusCode expected)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"{(int)response.StatusCode}: {body}");
        return body.Length == 0 ? default : JsonDocument.Parse(body).RootElement.Clone();
    }

    private FakeLangSmithProject Project(string prefix) => app.LangSmith.AddProject(TestData.Unique(prefix), app.Clock.GetUtcNow().AddDays(-30));

    [Fact]
    public async Task Create_ResolvesProjects_KeepsTheKeyEncrypted_Audits_AndOnlyAdminsMayUseIt()
    {
        var (admin, team) = await ApiClient.ForNewTeamAsync(app, ApiKeyScopes.Admin);
        using var _admin = admin;
        using var reader = await ApiClient.ForTeamAsync(app, team.Id, ApiKeyScopes.Read | ApiKeyScopes.Ingest | ApiKeyScopes.Review);
        var byName = Project("support");
        var byId = Project("agent");
        app.LangSmith.AddRuns(byName, FakeLangSmithServer.Trace(app.Clock.GetUtcNow().AddDays(-1), 1));

        var created = await ExpectAsync(await admin.PostJsonAsync(Route, new
        {
            api_url = app.LangSmith.ApiUrl + "/api/v1",
            api_key = FakeLangSmithServer.Key,
            projects = new object[] { new { name = byName.Name }, new { id = byId.Id.ToString(), start_time = "2026-01-01" } },
            sync_interval_minutes = 5,
        }), HttpStatusCode.Created);
        var id = created.GetProperty("id").GetGuid();
        Assert.Equal(app.LangSmith.ApiUrl, created.GetProperty("api_url").GetString()); // the SDK's /api/v1 form is taken too
        Assert.Equal(FakeLangSmithServer.Key[^4..], created.GetProperty("key_hint").GetString());
        Assert.True(created.GetProperty("push_feedback").GetBoolean());
        Assert.Equal("human_review", created.GetProperty("feedback_key").GetString());
        Assert.Equal(5, created.GetProperty("sync_interval_minutes").GetInt32());
        var projects = created.GetProperty("projects").EnumerateArray().ToList();
        Assert.Equal(2, projects.Count);
        var support = projects.Single(p => p.GetProperty("name").GetString() == byName.Name);
        Assert.Equal(byName.Id, support.GetProperty("id").GetGuid());
        Assert.Equal(3, support.GetProperty("estimated_runs").GetInt64());
        Assert.Equal(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero),
            projects.Single(p => p.GetProperty("id").GetGuid() == byId.Id).GetProperty("start_time").GetDateTimeOffset());

        var listed = await admin.Http.GetStringAsync(Route);
        Assert.DoesNotContain(FakeLangSmithServer.Key, listed, StringComparison.Ordinal);
        Assert.Equal(id, JsonDocument.Parse(listed).RootElement.GetProperty("items")[0].GetProperty("id").GetGuid());
        var stored = await app.ReadAsync(team, db => db.LangSmithConnections.SingleAsync(c => c.Id == id));
        Assert.DoesNotContain(FakeLangSmithServer.Key, stored.ProtectedApiKey, StringComparison.Ordinal);

        await ExpectAsync(await reader.Http.GetAsync(Route), HttpStatusCode.Forbidden);
        await ExpectAsync(await reader.Http.GetAsync($"{Route}/{id}"), HttpStatusCode.Forbidden);
        await ExpectAsync(await reader.PostJsonAsync(Route, new { api_key = "k", projects = new[] { new { name = "x" } } }), HttpStatusCode.Forbidden);

        var audit = (await admin.GetJsonAsync("/api/v1/audit-log")).GetProperty("items").EnumerateArray().ToList();
        var entry = Assert.Single(audit, e => e.GetProperty("action").GetString() == "langsmith.connected");
        Assert.Contains(byName.Name, entry.GetProperty("details").GetProperty("projects").GetString(), StringComparison.Ordinal);
        Assert.DoesNotContain(FakeLangSmithServer.Key, string.Join("", audit.Select(e => e.ToString())), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"projects":[{"name":"P"}]}""", "api_key")]
    [InlineData("""{"api_key":"lsv2_wrong_key_0000","projects":[{"name":"P"}]}""", "api_key")]
    [InlineData("""{"api_url":"ftp://host","api_key":"K","projects":[{"name":"P"}]}""", "api_url")]
    [InlineData("""{"api_url":"https://user:pw@example.com","api_key":"K","projects":[{"name":"P"}]}""", "api_url")]
    [InlineData("""{"api_key":"K"}""", "projects")]
    [InlineData("""{"api_key":"K","projects":[{}]}""", "projects[0].name")]
    [InlineData("""{"api_key":"K","projects":[{"name":"no such project"}]}""", "projects[0].name")]
    [InlineData("""{"api_key":"K","projects":[{"id":"not-a-uuid"}]}""", "projects[0].id")]
    [InlineData("""{"api_key":"K","projects":[{"name":"P","start_time":"last tuesday"}]}""", "projects[0].start_time")]
    [InlineData("""{"api_key":"K","projects":[{"name":"P"}],"sync_interval_minutes":0}""", "sync_interval_minutes")]
    [InlineData("""{"api_key":"K","projects":[{"name":"P"}],"workspace_id":"ws-1"}""", "workspace_id")]
    [InlineData("""{"api_key":"K","projects":[{"name":"P"},{"name":"P"}]}""", "projects[1]")]
    public async Task Create_WithABadField_Answers400NamingIt(string template, string field)
    {
        var (admin, _) = await ApiClient.ForNewTeamAsync(app, ApiKeyScopes.Admin);
        using var _admin = admin;
        var project = Project("bad");
        var body = template.Replace("\"K\"", $"\"{FakeLangSmithServer.Key}\"", StringComparison.Ordinal)
            .Replace("\"P\"", $"\"{project.Name}\"", StringComparison.Ordinal);
        if (!body.Contains("api_url", StringComparison.Ordinal))
        {
            body = body.Insert(1, $"\"api_url\":\"{app.LangSmith.ApiUrl}\",");
        }

        using var content = new StringContent(body, System.Text.Encoding.UTF8, "application/json");
        var problem = await ExpectAsync(await admin.Http.PostAsync(Route, content), HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
        Assert.Empty((await admin.GetJsonAsync(Route)).GetProperty("items").EnumerateArray());
    }

    [Fact]
    public async Task TestChangePauseSyncAndDelete_ActOnTheConnection()
    {
        var (admin, _) = await ApiClient.ForNewTeamAsync(app, ApiKeyScopes.Admin);
        using var _admin = admin;
        var first = Project("first");
        var second = Project("second");
        var id = (await ExpectAsync(await admin.PostJsonAsync(Route, new { api_url = app.LangSmith.ApiUrl, api_key = FakeLangSmithServer.Key, projects = new[] { new { name = first.Name } } }),
            HttpStatusCode.Created)).GetProperty("id").GetGuid();

        var test = await ExpectAsync(await admin.Http.PostAsync($"{Route}/{id}/test", null), HttpStatusCode.OK);
        Assert.True(test.GetProperty("ok").GetBoolean(), test.ToString());
        Assert.Equal("0.11.4", test.GetProperty("version").GetString());
        Assert.Contains(test.GetProperty("projects").EnumerateArray(), p => p.GetProperty("name").GetString() == second.Name);

        // A wrong new key is LangSmith's 401, named; nothing changes.
        var problem = await ExpectAsync(await admin.PutJsonAsync($"{Route}/{id}", new { api_key = "lsv2_expired_key_9999" }), HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty("api_key", out _), problem.ToString());
        var changed = await ExpectAsync(await admin.PutJsonAsync($"{Route}/{id}", new
        {
            projects = new[] { new { name = second.Name } }, sync_interval_minutes = 60, push_feedback = false, feedback_key = "reviewed",
        }), HttpStatusCode.OK);
        Assert.Equal(second.Name, Assert.Single(changed.GetProperty("projects").EnumerateArray()).GetProperty("name").GetString());
        Assert.Equal(60, changed.GetProperty("sync_interval_minutes").GetInt32());
        Assert.False(changed.GetProperty("push_feedback").GetBoolean());
        Assert.Equal("reviewed", changed.GetProperty("feedback_key").GetString());
        Assert.Equal(FakeLangSmithServer.Key[^4..], changed.GetProperty("key_hint").GetString());

        Assert.True((await ExpectAsync(await admin.Http.PostAsync($"{Route}/{id}/pause", null), HttpStatusCode.OK)).GetProperty("paused").GetBoolean());
        await ExpectAsync(await admin.Http.PostAsync($"{Route}/{id}/sync", null), HttpStatusCode.Conflict);
        app.Clock.Advance(TimeSpan.FromMinutes(3));
        var resumed = await ExpectAsync(await admin.Http.PostAsync($"{Route}/{id}/resume", null), HttpStatusCode.OK);
        Assert.False(resumed.GetProperty("paused").GetBoolean());
        Assert.Equal(app.Clock.GetUtcNow(), resumed.GetProperty("next_sync_at").GetDateTimeOffset());
        await ExpectAsync(await admin.Http.PostAsync($"{Route}/{id}/sync", null), HttpStatusCode.Accepted);

        await ExpectAsync(await admin.Http.DeleteAsync($"{Route}/{id}"), HttpStatusCode.NoContent);
        await ExpectAsync(await admin.Http.GetAsync($"{Route}/{id}"), HttpStatusCode.NotFound);
        var actions = (await admin.GetJsonAsync("/api/v1/audit-log")).GetProperty("items").EnumerateArray()
            .Select(e => e.GetProperty("action").GetString()!).Where(a => a.StartsWith("langsmith.", StringComparison.Ordinal)).Order(StringComparer.Ordinal);
        Assert.Equal(["langsmith.changed", "langsmith.connected", "langsmith.deleted", "langsmith.paused", "langsmith.resumed"], actions);
    }

    [Fact]
    public async Task AnotherTeam_NeitherSeesNorTouchesTheConnection()
    {
        var (mine, _) = await ApiClient.ForNewTeamAsync(app, ApiKeyScopes.Admin);
        var (theirs, _) = await ApiClient.ForNewTeamAsync(app, ApiKeyScopes.Admin);
        using var _m = mine;
        using var _t = theirs;
        var project = Project("iso");
        var id = (await ExpectAsync(await mine.PostJsonAsync(Route, new { api_url = app.LangSmith.ApiUrl, api_key = FakeLangSmithServer.Key, projects = new[] { new { name = project.Name } } }),
            HttpStatusCode.Created)).GetProperty("id").GetGuid();

        Assert.Empty((await theirs.GetJsonAsync(Route)).GetProperty("items").EnumerateArray());
        await ExpectAsync(await theirs.Http.GetAsync($"{Route}/{id}"), HttpStatusCode.NotFound);
        await ExpectAsync(await theirs.PutJsonAsync($"{Route}/{id}", new { sync_interval_minutes = 1 }), HttpStatusCode.NotFound);
        await ExpectAsync(await theirs.Http.PostAsync($"{Route}/{id}/sync", null), HttpStatusCode.NotFound);
        await ExpectAsync(await theirs.Http.PostAsync($"{Route}/{id}/pause", null), HttpStatusCode.NotFound);
        await ExpectAsync(await theirs.Http.PostAsync($"{Route}/{id}/test", null), HttpStatusCode.NotFound);
        await ExpectAsync(await theirs.Http.GetAsync($"{Route}/{id}/issues"), HttpStatusCode.NotFound);
        await ExpectAsync(await theirs.Http.DeleteAsync($"{Route}/{id}"), HttpStatusCode.NotFound);
        var still = await mine.GetJsonAsync($"{Route}/{id}");
        Assert.Equal(15, still.GetProperty("sync_interval_minutes").GetInt32());
        Assert.False(still.GetProperty("paused").GetBoolean());
    }
}

public sealed class PostgresLangSmithConnectionApiTests(LangSmithConnectorPostgresAppFactory app)
    : LangSmithConnectionApiTests(app), IClassFixture<LangSmithConnectorPostgresAppFactory>;

public sealed class SqliteLangSmithConnectionApiTests(LangSmithConnectorSqliteAppFactory app)
    : LangSmithConnectionApiTests(app), IClassFixture<LangSmithConnectorSqliteAppFactory>;
