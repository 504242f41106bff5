using System.Globalization;
using System.Net;
using System.Text.Json;
using EvalPlatform.Core.Providers;
using EvalPlatform.Core.Teams;
using EvalPlatform.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace EvalPlatform.Tests.Integration.Providers;

/// <summary>
/// <c>/api/v1/providers</c>: admin scope only, keys never returned, defaults and 400s naming the field, 409 for a name
/// taken, test and model discovery against the fakes, usage per bucket, the team's prices, and nothing across teams.
/// </summary>
public abstract class ProviderApiTests(ProviderAppFactory app)
{
    private const string Providers = "/api/v1/providers";

    private static async Task<JsonElement> ExpectAsync(HttpResponseMessage response, HttpStatusCode expected)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"{(int)response.StatusCode}: {body}");
        return body.Length == 0 ? default : JsonDocument.Parse(body).RootElement.Clone();
    }

    private static async Task<Guid> CreateAsync(ApiClient admin, string kind, string name, string? baseUrl, string apiKey) =>
        (await ExpectAsync(await admin.PostJsonAsync(Providers, new { kind, name, base_url = baseUrl, api_key = apiKey }), HttpStatusCode.Created)).GetProperty("id").GetGuid();

    [Fact]
    public async Task Create_DefaultsThePublicEndpoints_ListsWithoutKeys_AndOnlyAdminKeysMayUseIt()
    {
        var (admin, team) = await ApiClient.ForNewTeamAsync(app, ApiKeyScopes.Admin);
        using var _admin = admin;
        using var reader = await ApiClient.ForTeamAsync(app, team.Id, ApiKeyScopes.Read | ApiKeyScopes.Ingest);
        const string key = "sk-proj-secret-value-WXYZ";

        var openAi = await ExpectAsync(await admin.PostJsonAsync(Providers, new { kind = "openai", name = "OpenAI prod", api_key = key }), HttpStatusCode.Created);
        Assert.Equal("https://api.openai.com/v1", openAi.GetProperty("base_url").GetString());
        Assert.Equal("WXYZ", openAi.GetProperty("key_hint").GetString());
        app.Clock.Advance(TimeSpan.FromSeconds(1)); // oldest first: the second one is created later
        Assert.False(openAi.TryGetProperty("api_key", out _));
        var anthropic = await ExpectAsync(await admin.PostJsonAsync(Providers, new { kind = "anthropic", name = "Claude", api_key = "sk-ant-another-key-1234" }), HttpStatusCode.Created);
        Assert.Equal("https://api.anthropic.com", anthropic.GetProperty("base_url").GetString());

        var listed = await admin.Http.GetStringAsync(Providers);
        Assert.DoesNotContain(key, listed, StringComparison.Ordinal);
        var items = JsonDocument.Parse(listed).RootElement.GetProperty("items");
        Assert.Equal(["OpenAI prod", "Claude"], items.EnumerateArray().Select(i => i.GetProperty("name").GetString()));
        Assert.Equal("openai", items[0].GetProperty("kind").GetString());

        await ExpectAsync(await reader.Http.GetAsync(Providers), HttpStatusCode.Forbidden);
        await ExpectAsync(await reader.PostJsonAsync(Providers, new { kind = "openai", name = "x", api_key = "k" }), HttpStatusCode.Forbidden);
        await ExpectAsync(await admin.PostJsonAsync(Providers, new { kind = "openai", name = "OpenAI prod", api_key = "sk-other-key-0000" }), HttpStatusCode.Conflict);
    }

    [Theory]
    [InlineData("""{"name":"x","api_key":"k"}""", "kind")]
    [InlineData("""{"kind":"gemini","name":"x","api_key":"k"}""", "kind")]
    [InlineData("""{"kind":"openai","api_key":"k"}""", "name")]
    [InlineData("""{"kind":"openai","name":"x"}""", "api_key")]
    [InlineData("""{"kind":"openai_compatible","name":"x","api_key":"k"}""", "base_url")]
    [InlineData("""{"kind":"openai_compatible","name":"x","api_key":"k","base_url":"ftp://host/v1"}""", "base_url")]
    [InlineData("""{"kind":"openai","name":"x","api_key":"k","base_url":"https://user:pw@example.com/v1"}""", "base_url")]
    public async Task Create_WithABadField_Answers400NamingIt(string body, string field)
    {
        var (admin, _) = await ApiClient.ForNewTeamAsync(app, ApiKeyScopes.Admin);
        using var _admin = admin;
        var problem = await ExpectAsync(await admin.PostJsonAsync(Providers, body), HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
    }

    [Fact]
    public async Task TestAndModels_CallTheProvider_WithTheProvidersMessageOnRefusal()
    {
        var (admin, team) = await ApiClient.ForNewTeamAsync(app, ApiKeyScopes.Admin);
        using var _admin = admin;
        var good = await CreateAsync(admin, "openai_compatible", "local", app.OpenAi.BaseUrl, FakeOpenAiServer.Key);
        var bad = await CreateAsync(admin, "anthropic", "claude wrong key", app.Anthropic.BaseUrl, "sk-ant-wrong-key-0000");

        var ok = await ExpectAsync(await admin.Http.PostAsync($"{Providers}/{good}/test", null), HttpStatusCode.OK);
        Assert.True(ok.GetProperty("ok").GetBoolean());
        Assert.Equal(3, ok.GetProperty("model_count").GetInt32());
        var refused = await ExpectAsync(await admin.Http.PostAsync($"{Providers}/{bad}/test", null), HttpStatusCode.OK);
        Assert.False(refused.GetProperty("ok").GetBoolean());
        Assert.Equal(401, refused.GetProperty("status").GetInt32());
        Assert.Equal("invalid x-api-key", refused.GetProperty("error").GetString());

        var models = await ExpectAsync(await admin.Http.GetAsync($"{Providers}/{good}/models"), HttpStatusCode.OK);
        Assert.Contains("gpt-4o-mini", models.GetProperty("items").EnumerateArray().Select(m => m.GetString()));
        var problem = await ExpectAsync(await admin.Http.GetAsync($"{Providers}/{bad}/models"), HttpStatusCode.BadGateway);
        Assert.Equal("invalid x-api-key", problem.GetProperty("detail").GetString());

        // Both tests are on record as connection tests, one of them failed.
        var usage = await ExpectAsync(await admin.Http.GetAsync($"{Providers}/{bad}/usage"), HttpStatusCode.OK);
        Assert.Equal(1, usage.GetProperty("total").GetProperty("requests").GetInt32());
        Assert.Equal(1, usage.GetProperty("total").GetProperty("errors").GetInt32());
    }

    [Fact]
    public async Task Usage_GivesRequestsTokensCostErrorsAndLatencyPerBucket()
    {
        var (admin, team) = await ApiClient.ForNewTeamAsync(app, ApiKeyScopes.Admin);
        using var _admin = admin;
        var id = await CreateAsync(admin, "openai", "usage", app.OpenAi.BaseUrl, FakeOpenAiServer.Key);
        var hour = new DateTimeOffset(2026, 3, 1, 10, 0, 0, TimeSpan.Zero);
        await using (var scope = app.ScopeFor(team))
        {
            var usage = scope.ServiceProvider.GetRequiredService<IProviderUsage>();
            double[] latencies = [100, 200, 300, 400, 1000];
            for (var i = 0; i < latencies.Length; i++)
            {
                await usage.RecordAsync(new ProviderCall { ConnectionId = id, At = hour.AddMinutes(i), Model = "gpt-4o", InputTokens = 10, OutputTokens = 20, Cost = 0.01m, LatencyMs = latencies[i], Status = 200 }, default);
            }

            await usage.RecordAsync(new ProviderCall { ConnectionId = id, At = hour.AddHours(1).AddMinutes(5), LatencyMs = 50, Status = 500, IsError = true }, default);
            await usage.RecordAsync(new ProviderCall { ConnectionId = id, At = hour.AddHours(5), LatencyMs = 50, Status = 200 }, default); // outside the range
        }

        var from = hour.ToString("O", CultureInfo.InvariantCulture);
        var to = hour.AddHours(3).ToString("O", CultureInfo.InvariantCulture);
        var report = await ExpectAsync(await admin.Http.GetAsync($"{Providers}/{id}/usage?from={Uri.EscapeDataString(from)}&to={Uri.EscapeDataString(to)}&interval=hour"), HttpStatusCode.OK);
        Assert.Equal("hour", report.GetProperty("interval").GetString());
        var buckets = report.GetProperty("buckets").EnumerateArray().ToList();
        Assert.Equal(3, buckets.Count);
        Assert.Equal(5, buckets[0].GetProperty("requests").GetInt32());
        Assert.Equal(50, buckets[0].GetProperty("input_tokens").GetInt64());
        Assert.Equal(100, buckets[0].GetProperty("output_tokens").GetInt64());
        Assert.Equal(0.05m, buckets[0].GetProperty("cost").GetDecimal());
        Assert.Equal(300, buckets[0].GetProperty("latency_p50_ms").GetDouble());
        Assert.Equal(1000, buckets[0].GetProperty("latency_p95_ms").GetDouble());
        Assert.Equal(1, buckets[1].GetProperty("errors").GetInt32());
        Assert.Equal(0, buckets[2].GetProperty("requests").GetInt32());
        Assert.Equal(JsonValueKind.Null, buckets[2].GetProperty("latency_p50_ms").ValueKind);
        Assert.Equal(6, report.GetProperty("total").GetProperty("requests").GetInt32());

        await ExpectAsync(await admin.Http.GetAsync($"{Providers}/{id}/usage?interval=week"), HttpStatusCode.BadRequest);
        await ExpectAsync(await admin.Http.GetAsync($"{Providers}/{id}/usage?from=yesterday"), HttpStatusCode.BadRequest);
        await ExpectAsync(await admin.Http.GetAsync($"{Providers}/{id}/usage?from=2020-01-01T00:00:00Z&interval=minute"), HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Prices_AreTheTeamsOwn_Validated_AndOverrideTheBuiltInList()
    {
        var (admin, _) = await ApiClient.ForNewTeamAsync(app, ApiKeyScopes.Admin);
        var (other, _) = await ApiClient.ForNewTeamAsync(app, ApiKeyScopes.Admin);
        using var _admin = admin;
        using var _other = other;
        var initial = await ExpectAsync(await admin.Http.GetAsync($"{Providers}/prices"), HttpStatusCode.OK);
        Assert.Empty(initial.GetProperty("items").EnumerateArray());
        Assert.Contains(initial.GetProperty("built_in").EnumerateArray(), p => p.GetProperty("model_prefix").GetString() == "gpt-4o");

        var saved = await ExpectAsync(await admin.PutJsonAsync($"{Providers}/prices",
            new { items = new[] { new { model_prefix = " My-Llama ", input_per_million = 0.2m, output_per_million = 0.4m } } }), HttpStatusCode.OK);
        var item = Assert.Single(saved.GetProperty("items").EnumerateArray());
        Assert.Equal("my-llama", item.GetProperty("model_prefix").GetString());
        Assert.Equal(0.4m, item.GetProperty("output_per_million").GetDecimal());
        Assert.Empty((await ExpectAsync(await other.Http.GetAsync($"{Providers}/prices"), HttpStatusCode.OK)).GetProperty("items").EnumerateArray());

        var problem = await ExpectAsync(await admin.PutJsonAsync($"{Providers}/prices",
            new { items = new[] { new { model_prefix = "gpt-4o", input_per_million = -1m, output_per_million = 1m } } }), HttpStatusCode.BadRequest);
        Assert.True(problem.GetProperty("errors").TryGetProperty("items[0].input_per_million", out _), problem.ToString());
        await ExpectAsync(await admin.PutJsonAsync($"{Providers}/prices", new { }), HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task NoConnection_CrossesTeams()
    {
        var (mine, _) = await ApiClient.ForNewTeamAsync(app, ApiKeyScopes.Admin);
        var (theirs, _) = await ApiClient.ForNewTeamAsync(app, ApiKeyScopes.Admin);
        using var _mine = mine;
        using var _theirs = theirs;
        var id = await CreateAsync(mine, "openai", "mine", app.OpenAi.BaseUrl, FakeOpenAiServer.Key);
        var before = app.OpenAi.Requests.Count;

        Assert.Empty((await theirs.GetJsonAsync(Providers)).GetProperty("items").EnumerateArray());
        await ExpectAsync(await theirs.Http.PostAsync($"{Providers}/{id}/test", null), HttpStatusCode.NotFound);
        await ExpectAsync(await theirs.Http.GetAsync($"{Providers}/{id}/models"), HttpStatusCode.NotFound);
        await ExpectAsync(await theirs.Http.GetAsync($"{Providers}/{id}/usage"), HttpStatusCode.NotFound);
        await ExpectAsync(await theirs.Http.DeleteAsync($"{Providers}/{id}"), HttpStatusCode.NotFound);
        Assert.Equal(before, app.OpenAi.Requests.Count); // the other team's key never went out

        // Their own connection may take the same name.
        await CreateAsync(theirs, "openai", "mine", app.OpenAi.BaseUrl, FakeOpenAiServer.Key);
        Assert.Single((await mine.GetJsonAsync(Providers)).GetProperty("items").EnumerateArray());
        await ExpectAsync(await mine.Http.DeleteAsync($"{Providers}/{id}"), HttpStatusCode.NoContent);
        Assert.Empty((await mine.GetJsonAsync(Providers)).GetProperty("items").EnumerateArray());

        // Each team's audit log has its own connection's creation and deletion, naming kind and key hint, never the key.
        var audit = (await mine.GetJsonAsync("/api/v1/audit-log")).GetProperty("items").EnumerateArray().ToList();
        Assert.Equal(["provider.created", "provider.deleted"], audit.Select(e => e.GetProperty("action").GetString()!)
            .Where(a => a.StartsWith("provider.", StringComparison.Ordinal)).Order(StringComparer.Ordinal));
        var created = audit.Single(e => e.GetProperty("action").GetString() == "provider.created");
        Assert.Equal("mine", created.GetProperty("target").GetString());
        Assert.Equal("openai", created.GetProperty("details").GetProperty("kind").GetString());
        Assert.DoesNotContain(FakeOpenAiServer.Key, string.Join("", audit.Select(e => e.ToString())), StringComparison.Ordinal);
        Assert.Single((await theirs.GetJsonAsync("/api/v1/audit-log")).GetProperty("items").EnumerateArray(), e => e.GetProperty("action").GetString() == "provider.created");
    }
}

public sealed class PostgresProviderApiTests(ProviderPostgresAppFactory app) : ProviderApiTests(app), IClassFixture<ProviderPostgresAppFactory>;

public sealed class SqliteProviderApiTests(ProviderSqliteAppFactory app) : ProviderApiTests(app), IClassFixture<ProviderSqliteAppFactory>;
