using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using EvalPlatform.Core.Common;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace EvalPlatform.Tests.Integration.Ingestion;

/// <summary>The app on PostgreSQL and Redis with one origin allowed for every team by the configuration.</summary>
public sealed class CorsAppFactory() : EvalAppFactory(TestDatabase.Postgres, redis: true)
{
    public const string ConfiguredOrigin = "https://configured.example";

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.UseSetting("Ingestion:Cors:AllowedOrigins:0", ConfiguredOrigin);
    }
}

/// <summary>CORS on the ingestion routes only (ADR 14), through the real pipeline on PostgreSQL.</summary>
public sealed class IngestionCorsTests(CorsAppFactory app) : IClassFixture<CorsAppFactory>
{
    private const string AnyId = "0193a7a0-0000-7000-8000-000000000001";

    /// <summary>Every route that takes traces (or, for /info, that the LangSmith SDK probes first).</summary>
    public static TheoryData<string, string> IngestionRoutes => new()
    {
        { "POST", "/api/v1/traces" },
        { "POST", "/api/v1/traces/batch" },
        { "PATCH", $"/api/v1/traces/{AnyId}" },
        { "POST", $"/api/v1/traces/{AnyId}/scores" },
        { "POST", "/v1/traces" },
        { "POST", "/api/otel/v1/traces" },
        { "GET", "/api/langsmith/info" },
        { "POST", "/api/langsmith/runs" },
        { "PATCH", $"/api/langsmith/runs/{AnyId}" },
        { "POST", "/api/langsmith/runs/batch" },
        { "POST", "/api/langsmith/runs/multipart" },
        { "POST", "/api/langsmith/feedback" },
    };

    /// <summary>Everything else: reads, admin, webhooks (signed by servers), sign-in and the pages.</summary>
    public static TheoryData<string, string> OtherRoutes => new()
    {
        { "GET", "/api/v1/traces" },
        { "GET", $"/api/v1/traces/{AnyId}" },
        { "GET", "/api/v1/traces/export" },
        { "POST", $"/api/v1/traces/{AnyId}/review" },
        { "GET", "/api/v1/review-settings" },
        { "GET", "/api/v1/whoami" },
        { "GET", "/api/v1/api-keys" },
        { "GET", "/api/v1/ingestion/origins" },
        { "PUT", "/api/v1/ingestion/origins" },
        { "GET", "/api/v1/ingestion/issues" },
        { "GET", "/api/v1/queues" },
        { "POST", "/api/v1/webhooks/github" },
        { "POST", "/account/logout" },
        { "GET", "/traces" },
        { "GET", "/settings/ingestion" },
        { "GET", "/traces/export" },
    };

    [Theory]
    [MemberData(nameof(IngestionRoutes))]
    public async Task Preflight_OnEachIngestionRoute_FromATeamsOrigin_Is204WithTheCorsHeaders(string method, string path)
    {
        var (team, _) = await NewTeamAsync();
        var origin = await AllowNewOriginAsync(team);

        using var response = await PreflightAsync(path, method, origin);

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal(origin, Header(response, "Access-Control-Allow-Origin"));
        Assert.Equal(["GET", "POST", "PATCH"], List(response, "Access-Control-Allow-Methods"));
        var allowedHeaders = List(response, "Access-Control-Allow-Headers");
        foreach (var header in new[] { "authorization", "content-type", "x-api-key", "content-encoding", "user-agent" })
        {
            Assert.Contains(header, allowedHeaders);
        }

        Assert.Equal("600", Header(response, "Access-Control-Max-Age"));
        Assert.Contains("Origin", response.Headers.Vary);
        Assert.False(response.Headers.Contains("Access-Control-Allow-Credentials"));
    }

    [Theory]
    [MemberData(nameof(OtherRoutes))]
    public async Task Preflight_OnReadAdminWebhookAndPageRoutes_IsRefusedWithoutCorsHeaders(string method, string path)
    {
        var (team, _) = await NewTeamAsync();
        var origin = await AllowNewOriginAsync(team);

        using var response = await PreflightAsync(path, method, origin);

        // 405; routing says 404 where the path also serves an ingestion method (GET /api/v1/traces beside its POST).
        var expected = path is "/api/v1/traces" or $"/api/v1/traces/{AnyId}"
            ? HttpStatusCode.NotFound
            : HttpStatusCode.MethodNotAllowed;
        Assert.Equal(expected, response.StatusCode);
        AssertNoCorsHeaders(response);
    }

    [Fact]
    public async Task Preflight_FromAnOriginNoOneAllows_GetsNoCorsHeaders()
    {
        using var response = await PreflightAsync("/api/v1/traces", "POST", $"https://{TestData.Unique("nobody")}.example");

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        AssertNoCorsHeaders(response);
    }

    [Fact]
    public async Task Preflight_FromTheNullOrigin_GetsNoCorsHeaders()
    {
        using var response = await PreflightAsync("/api/v1/traces", "POST", "null");

        AssertNoCorsHeaders(response);
    }

    [Fact]
    public async Task Request_FromTheTeamsOrigin_WithItsKey_IsStored_AndThePageMayReadTheAnswer()
    {
        var (team, key) = await NewTeamAsync();
        var origin = await AllowNewOriginAsync(team);

        using var response = await SendAsync(HttpMethod.Post, "/api/v1/traces", key, origin, Json(new { external_id = "cors-1", user_input = "Hi", response = "Hello" }));

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal(origin, Header(response, "Access-Control-Allow-Origin"));
        Assert.Contains("Origin", response.Headers.Vary);
        Assert.Contains("location", List(response, "Access-Control-Expose-Headers"));
        Assert.Contains("retry-after", List(response, "Access-Control-Expose-Headers"));
        Assert.False(response.Headers.Contains("Access-Control-Allow-Credentials"));
        Assert.Single(await ListTracesAsync(team));
    }

    [Fact]
    public async Task Request_FromTeamAsOrigin_WithTeamBsKey_Is403WithoutCorsHeaders_StoresNothing_AndIsLogged()
    {
        var (teamA, _) = await NewTeamAsync();
        var originOfA = await AllowNewOriginAsync(teamA);
        var (teamB, keyB) = await NewTeamAsync();

        // The preflight passes (no key: some team allows the origin); the request itself is judged by its key's team.
        using (var preflight = await PreflightAsync("/api/v1/traces/batch", "POST", originOfA))
        {
            Assert.Equal(originOfA, Header(preflight, "Access-Control-Allow-Origin"));
        }

        var otlp = """{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"chat","startTimeUnixNano":"1700000000000000000","endTimeUnixNano":"1700000001000000000"}]}]}]}""";
        var runs = JsonSerializer.Serialize(new { post = new[] { new { id = Guid.NewGuid(), name = "chain", run_type = "chain", start_time = "2026-01-01T00:00:00Z", inputs = new { q = "hi" } } } });
        foreach (var (path, body) in new[]
        {
            ("/api/v1/traces/batch", JsonSerializer.Serialize(new { traces = new[] { new { user_input = "Hi", response = "Hello" } } })),
            ("/v1/traces", otlp),
            ("/api/langsmith/runs/batch", runs),
        })
        {
            using var response = await SendAsync(HttpMethod.Post, path, keyB, originOfA, new StringContent(body, Encoding.UTF8, "application/json"));

            Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Contains(originOfA, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
            AssertNoCorsHeaders(response);
        }

        Assert.Empty(await ListTracesAsync(teamB));
        using var reader = await ApiClient.ForTeamAsync(app, teamB.Id, ApiKeyScopes.Read);
        var issues = (await reader.GetJsonAsync("/api/v1/ingestion/issues")).GetProperty("items").EnumerateArray().ToList();
        Assert.Equal(["batch", "langsmith", "otlp"], issues.Select(i => i.GetProperty("door").GetString()).Order(StringComparer.Ordinal));
        Assert.All(issues, i => Assert.Equal("Origin", i.GetProperty("field").GetString()));
    }

    [Fact]
    public async Task Request_FromTheConfiguredOrigin_IsAllowedForEveryTeam()
    {
        var (team, key) = await NewTeamAsync();

        using (var preflight = await PreflightAsync("/api/v1/traces", "POST", CorsAppFactory.ConfiguredOrigin))
        {
            Assert.Equal(CorsAppFactory.ConfiguredOrigin, Header(preflight, "Access-Control-Allow-Origin"));
        }

        using var response = await SendAsync(HttpMethod.Post, "/api/v1/traces", key, CorsAppFactory.ConfiguredOrigin, Json(new { user_input = "Hi", response = "Hello" }));

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal(CorsAppFactory.ConfiguredOrigin, Header(response, "Access-Control-Allow-Origin"));
        Assert.Single(await ListTracesAsync(team));
    }

    [Fact]
    public async Task Request_WithoutAValidKey_FromAnAllowedOrigin_Is401ThePageMayRead()
    {
        var (team, _) = await NewTeamAsync();
        var origin = await AllowNewOriginAsync(team);

        using var response = await SendAsync(HttpMethod.Post, "/api/v1/traces", "ep_0123456789ab_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", origin, Json(new { user_input = "Hi" }));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal(origin, Header(response, "Access-Control-Allow-Origin"));
    }

    [Fact]
    public async Task Request_FromTheAppsOwnOrigin_IsNotCrossOrigin_AndIsStored()
    {
        var (team, key) = await NewTeamAsync();

        using var response = await SendAsync(HttpMethod.Post, "/api/v1/traces", key, "http://localhost", Json(new { user_input = "Hi", response = "Hello" }));

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        AssertNoCorsHeaders(response);
        Assert.Single(await ListTracesAsync(team));
    }

    [Fact]
    public async Task ReadRoutes_AnswerABrowsersRequestWithoutCorsHeaders()
    {
        var (team, _) = await NewTeamAsync();
        var origin = await AllowNewOriginAsync(team);
        var reader = await TestData.CreateKeyAsync(app.Services, team.Id, ApiKeyScopes.Read);

        using var response = await SendAsync(HttpMethod.Get, "/api/v1/traces", reader.Key, origin, content: null);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        AssertNoCorsHeaders(response);
    }

    [Fact]
    public async Task ChangingTheList_TakesEffectAtOnce_OnThisNode()
    {
        var (team, _) = await NewTeamAsync();
        var origin = $"https://{TestData.Unique("late")}.example";
        using (var before = await PreflightAsync("/api/v1/traces", "POST", origin))
        {
            AssertNoCorsHeaders(before);
        }

        using var admin = await ApiClient.ForTeamAsync(app, team.Id, ApiKeyScopes.Admin);
        Assert.Equal(HttpStatusCode.OK, (await admin.Http.PutAsJsonAsync("/api/v1/ingestion/origins", new { origins = new[] { origin } })).StatusCode);
        using (var added = await PreflightAsync("/api/v1/traces", "POST", origin))
        {
            Assert.Equal(origin, Header(added, "Access-Control-Allow-Origin"));
        }

        Assert.Equal(HttpStatusCode.OK, (await admin.Http.PutAsJsonAsync("/api/v1/ingestion/origins", new { origins = Array.Empty<string>() })).StatusCode);
        using var removed = await PreflightAsync("/api/v1/traces", "POST", origin);
        AssertNoCorsHeaders(removed);
    }

    [Fact]
    public async Task ChangeOnOneNode_ReachesTheOtherNode_LongBeforeItsCopyExpires()
    {
        await using var nodeB = new EvalAppFactory(TestDatabase.Postgres, redis: true, sharedConnectionString: app.ConnectionString);
        await ((IAsyncLifetime)nodeB).InitializeAsync();
        var (team, _) = await NewTeamAsync();
        var origin = $"https://{TestData.Unique("spread")}.example";
        using var onB = nodeB.CreateClient();
        using (var before = await PreflightAsync("/api/v1/traces", "POST", origin, onB))
        {
            AssertNoCorsHeaders(before);
        }

        await AllowAsync(team, origin);

        await Wait.UntilAsync(async () =>
        {
            using var preflight = await PreflightAsync("/api/v1/traces", "POST", origin, onB);
            return Header(preflight, "Access-Control-Allow-Origin") == origin;
        }, "node B to allow the origin node A allowed", TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task Api_ReadsWithReadOrAdmin_ReplacesWithAdmin_InNormalForm()
    {
        var (team, _) = await NewTeamAsync();
        using var admin = await ApiClient.ForTeamAsync(app, team.Id, ApiKeyScopes.Admin);
        using var reader = await ApiClient.ForTeamAsync(app, team.Id, ApiKeyScopes.Read);
        using var ingester = await ApiClient.ForTeamAsync(app, team.Id, ApiKeyScopes.Ingest);

        var put = await admin.Http.PutAsJsonAsync("/api/v1/ingestion/origins",
            new { origins = new[] { "HTTPS://App.Example.com/", "http://localhost:3000", "https://app.example.com:443" } });
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        var body = await put.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(["https://app.example.com", "http://localhost:3000"], Strings(body.GetProperty("origins")));
        Assert.Equal([CorsAppFactory.ConfiguredOrigin], Strings(body.GetProperty("configured_origins")));

        var read = await reader.GetJsonAsync("/api/v1/ingestion/origins");
        Assert.Equal(["https://app.example.com", "http://localhost:3000"], Strings(read.GetProperty("origins")));

        Assert.Equal(HttpStatusCode.Forbidden, (await reader.Http.PutAsJsonAsync("/api/v1/ingestion/origins", new { origins = Array.Empty<string>() })).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await ingester.Http.GetAsync("/api/v1/ingestion/origins")).StatusCode);
    }

    [Theory]
    [InlineData("""{"origins":["https://ok.example","https://bad.example/path","*"]}""", "origins[1]", "has no path")]
    [InlineData("""{"origins":["https://ok.example","*"]}""", "origins[1]", "Wildcards are not allowed")]
    [InlineData("""{"origins":["https://ok.example",42]}""", "origins[1]", "Must be a string")]
    [InlineData("""{"origins":"https://ok.example"}""", "origins", "Must be an array")]
    [InlineData("""{"origin":["https://ok.example"]}""", "origin", "Unknown field")]
    [InlineData("""{}""", "origins", "Required")]
    [InlineData("""[]""", "$", "Send {")]
    public async Task Api_RefusesABadList_NamingTheField_AndChangesNothing(string body, string field, string message)
    {
        var (team, _) = await NewTeamAsync();
        var kept = await AllowNewOriginAsync(team);
        using var admin = await ApiClient.ForTeamAsync(app, team.Id, ApiKeyScopes.Admin);

        var response = await admin.Http.PutAsync("/api/v1/ingestion/origins", new StringContent(body, Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        var errors = problem.GetProperty("errors").GetProperty(field);
        Assert.Contains(message, errors[0].GetString(), StringComparison.Ordinal);
        Assert.Equal([kept], Strings((await admin.GetJsonAsync("/api/v1/ingestion/origins")).GetProperty("origins")));
    }

    [Fact]
    public async Task Service_LetsViewersRead_AndOnlyAdminsAndOwnersChange()
    {
        var (team, _) = await NewTeamAsync();
        var (viewerId, _) = await TestData.CreateMemberAsync(app.Services, team.Id, TeamRole.Viewer);
        var (adminId, _) = await TestData.CreateMemberAsync(app.Services, team.Id, TeamRole.Admin);

        await using (var scope = app.Services.CreateAsyncScope())
        {
            scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(team.Id, viewerId, TeamRole.Viewer);
            var service = scope.ServiceProvider.GetRequiredService<IngestionOriginService>();
            Assert.Empty((await service.GetAsync()).Origins);
            await Assert.ThrowsAsync<PermissionDeniedException>(() => service.AddAsync("https://a.example"));
            await Assert.ThrowsAsync<PermissionDeniedException>(() => service.ReplaceAsync(["https://a.example"]));
        }

        await using (var scope = app.Services.CreateAsyncScope())
        {
            scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(team.Id, adminId, TeamRole.Admin);
            var service = scope.ServiceProvider.GetRequiredService<IngestionOriginService>();
            Assert.Equal(["https://a.example"], (await service.AddAsync("https://A.example/")).Origins);
            Assert.Contains("already allowed", (await Assert.ThrowsAsync<DomainValidationException>(() => service.AddAsync("https://a.example"))).Message, StringComparison.Ordinal);
            Assert.Empty((await service.RemoveAsync("https://a.example")).Origins);
            await Assert.ThrowsAsync<NotFoundException>(() => service.RemoveAsync("https://a.example"));
        }
    }

    private async Task<(TestTeam Team, string IngestKey)> NewTeamAsync()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        return (team, (await TestData.CreateKeyAsync(app.Services, team.Id, ApiKeyScopes.Ingest)).Key);
    }

    private async Task<string> AllowNewOriginAsync(TestTeam team)
    {
        var origin = $"https://{TestData.Unique("app")}.example";
        await AllowAsync(team, origin);
        return origin;
    }

    private async Task AllowAsync(TestTeam team, string origin)
    {
        await using var scope = app.Services.CreateAsyncScope();
        scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(team.Id, team.OwnerId, TeamRole.Owner);
        await scope.ServiceProvider.GetRequiredService<IngestionOriginService>().AddAsync(origin);
    }

    private async Task<HttpResponseMessage> PreflightAsync(string path, string method, string origin, HttpClient? client = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Options, path);
        request.Headers.TryAddWithoutValidation("Origin", origin);
        request.Headers.TryAddWithoutValidation("Access-Control-Request-Method", method);
        request.Headers.TryAddWithoutValidation("Access-Control-Request-Headers", "authorization,content-type");
        if (client is not null)
        {
            return await client.SendAsync(request);
        }

        using var own = app.CreateClient(new() { AllowAutoRedirect = false });
        return await own.SendAsync(request);
    }

    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, string key, string origin, HttpContent? content)
    {
        using var request = new HttpRequestMessage(method, path) { Content = content };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        request.Headers.TryAddWithoutValidation("Origin", origin);
        using var client = app.CreateClient();
        return await client.SendAsync(request);
    }

    private async Task<List<JsonElement>> ListTracesAsync(TestTeam team)
    {
        using var reader = await ApiClient.ForTeamAsync(app, team.Id, ApiKeyScopes.Read);
        return (await reader.GetJsonAsync("/api/v1/traces")).GetProperty("items").EnumerateArray().ToList();
    }

    private static StringContent Json(object body) => new(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json");

    private static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? string.Join(",", values) : null;

    private static List<string> List(HttpResponseMessage response, string name) =>
        (Header(response, name) ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).ToList();

    private static string[] Strings(JsonElement array) => array.EnumerateArray().Select(e => e.GetString()!).ToArray();

    private static void AssertNoCorsHeaders(HttpResponseMessage response)
    {
        foreach (var name in new[] { "Access-Control-Allow-Origin", "Access-Control-Allow-Methods", "Access-Control-Allow-Headers", "Access-Control-Allow-Credentials", "Access-Control-Expose-Headers" })
        {
            Assert.False(response.Headers.Contains(name), $"{name}: {Header(response, name)} (status {(int)response.StatusCode})");
        }
    }
}

/// <summary>The cross-team read of the origins and the service's writes on SQLite (its primitive collections are JSON).</summary>
public sealed class IngestionCorsSqliteTests(SqliteAppFactory app) : IClassFixture<SqliteAppFactory>
{
    [Fact]
    public async Task APreflight_FromATeamsOrigin_IsAllowed_AndARequestWithItsKeyStored()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        await using (var scope = app.Services.CreateAsyncScope())
        {
            scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(team.Id, team.OwnerId, TeamRole.Owner);
            await scope.ServiceProvider.GetRequiredService<IngestionOriginService>().ReplaceAsync(["http://localhost:5173", "https://app.example"]);
        }

        using var client = app.CreateClient();
        using var preflight = new HttpRequestMessage(HttpMethod.Options, "/api/v1/traces/batch");
        preflight.Headers.TryAddWithoutValidation("Origin", "http://localhost:5173");
        preflight.Headers.TryAddWithoutValidation("Access-Control-Request-Method", "POST");
        using var answer = await client.SendAsync(preflight);
        Assert.Equal(HttpStatusCode.NoContent, answer.StatusCode);
        Assert.Equal("http://localhost:5173", answer.Headers.GetValues("Access-Control-Allow-Origin").Single());

        var key = await TestData.CreateKeyAsync(app.Services, team.Id, ApiKeyScopes.Ingest);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/traces")
        {
            Content = new StringContent("""{"user_input":"Hi","response":"Hello"}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key.Key);
        request.Headers.TryAddWithoutValidation("Origin", "https://app.example");
        using var stored = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.Created, stored.StatusCode);
        Assert.Equal("https://app.example", stored.Headers.GetValues("Access-Control-Allow-Origin").Single());
    }
}
