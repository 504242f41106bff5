using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Core.Webhooks;
using EvalPlatform.Tests.Infrastructure;
using EvalPlatform.Web.RateLimits;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using StackExchange.Redis;

namespace EvalPlatform.Tests.Integration.RateLimits;

/// <summary>Rate limits through the real app: per key and per team, per client address on the anonymous routes (ADR 36).</summary>
public sealed class RateLimitTests(SqliteAppFactory app) : IClassFixture<SqliteAppFactory>
{
    private static async Task AssertTooManyAsync(HttpResponseMessage response)
    {
        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        Assert.InRange(response.Headers.RetryAfter?.Delta ?? TimeSpan.Zero, TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(1));
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(429, problem.GetProperty("status").GetInt32());
        Assert.Equal("Too many requests", problem.GetProperty("title").GetString());
        Assert.Contains("retry after", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    private WebApplicationFactory<Program> With(params (string Key, string Value)[] settings) =>
        app.WithWebHostBuilder(b =>
        {
            foreach (var (key, value) in settings)
            {
                b.UseSetting(key, value);
            }
        });

    [Fact]
    public async Task AKeyOverItsLimit_Gets429WithRetryAfterAndProblemDetails_WhileAnotherTeamsKeyIsServed()
    {
        await using var limited = With(("RateLimits:PerKey:PerMinute", "3"));
        var (teamA, _) = await ApiClient.ForNewTeamAsync(limited);
        var (teamB, _) = await ApiClient.ForNewTeamAsync(limited);
        using var a = teamA;
        using var b = teamB;

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await a.Http.GetAsync("/api/v1/whoami")).StatusCode);
        }

        await AssertTooManyAsync(await a.Http.GetAsync("/api/v1/whoami"));
        // Ingestion is refused the same way, before anything is queued.
        await AssertTooManyAsync(await a.PostJsonAsync("/api/v1/traces", new { user_input = "over the limit" }));

        Assert.Equal(HttpStatusCode.OK, (await b.Http.GetAsync("/api/v1/whoami")).StatusCode);
        await b.PostTraceAsync(new { user_input = "team B is not slowed by team A" });
    }

    [Fact]
    public async Task ATeamsKeysShareTheTeamsLimit_AndTheOtherIngestionDoorsCount()
    {
        await using var limited = With(("RateLimits:PerTeam:PerMinute", "4"));
        var team = await TestData.CreateTeamAsync(limited.Services);
        using var first = await ApiClient.ForTeamAsync(limited, team.Id, ApiKeyScopes.Ingest | ApiKeyScopes.Read);
        using var second = await ApiClient.ForTeamAsync(limited, team.Id, ApiKeyScopes.Ingest | ApiKeyScopes.Read);

        Assert.Equal(HttpStatusCode.OK, (await first.Http.GetAsync("/api/v1/whoami")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await second.Http.GetAsync("/api/v1/whoami")).StatusCode);
        // The LangSmith and OTLP doors are counted against the same team (an empty OTLP export is still a request).
        Assert.True((await first.PostJsonAsync("/api/langsmith/runs/batch", new { post = Array.Empty<object>() })).StatusCode != HttpStatusCode.TooManyRequests);
        Assert.True((await second.PostJsonAsync("/v1/traces", new { resourceSpans = Array.Empty<object>() })).StatusCode != HttpStatusCode.TooManyRequests);

        await AssertTooManyAsync(await first.Http.GetAsync("/api/v1/whoami"));
        await AssertTooManyAsync(await second.PostJsonAsync("/v1/traces", new { resourceSpans = Array.Empty<object>() }));
    }

    [Fact]
    public async Task SigningIn_IsLimitedPerClientAddress_OnThePostOnly()
    {
        await using var limited = With(("RateLimits:SignIn:PerMinute", "2"));
        await TestData.CreateUserAsync(limited.Services);
        using var browser = limited.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = true });
        var wrong = new Dictionary<string, string> { ["Input.Email"] = "nobody@example.com", ["Input.Password"] = "wrong-password-1" };

        for (var i = 0; i < 2; i++)
        {
            Assert.NotEqual(HttpStatusCode.TooManyRequests, (await FormPoster.SubmitAsync(browser, "/account/login", "login", wrong)).StatusCode);
        }

        // FormPoster's GET of the page is not limited; the third POST is.
        await AssertTooManyAsync(await FormPoster.SubmitAsync(browser, "/account/login", "login", wrong));
        Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync("/account/login")).StatusCode);
    }

    [Fact]
    public async Task InvitationLinks_AreLimitedPerClientAddress()
    {
        await using var limited = With(("RateLimits:Invitation:PerMinute", "2"));
        await TestData.CreateUserAsync(limited.Services);
        using var browser = limited.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false });

        Assert.NotEqual(HttpStatusCode.TooManyRequests, (await browser.GetAsync("/invite/guess-1")).StatusCode);
        Assert.NotEqual(HttpStatusCode.TooManyRequests, (await browser.GetAsync("/invite/guess-2")).StatusCode);
        await AssertTooManyAsync(await browser.GetAsync("/invite/guess-3"));
    }

    [Fact]
    public async Task TheFirstRunPage_IsLimitedPerClientAddress()
    {
        await using var limited = With(("RateLimits:Setup:PerMinute", "2"));
        using var browser = limited.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false });

        Assert.NotEqual(HttpStatusCode.TooManyRequests, (await browser.GetAsync("/setup")).StatusCode);
        Assert.NotEqual(HttpStatusCode.TooManyRequests, (await browser.GetAsync("/setup?token=guess")).StatusCode);
        await AssertTooManyAsync(await browser.GetAsync("/setup"));
        // Another anonymous route has its own count.
        Assert.NotEqual(HttpStatusCode.TooManyRequests, (await browser.GetAsync("/invite/guess")).StatusCode);
    }

    [Fact]
    public async Task InboundWebhooks_AreLimitedPerClientAddress_BeforeTheSignatureIsChecked()
    {
        await using var limited = With(("RateLimits:Webhooks:PerMinute", "2"));
        using var sender = limited.CreateClient();
        var url = $"/api/v1/webhooks/ci?team={Guid.NewGuid()}";

        for (var i = 0; i < 2; i++)
        {
            // Unsigned: refused, but counted.
            Assert.Equal(HttpStatusCode.Unauthorized, (await sender.PostAsJsonAsync(url, new { user_input = "x" })).StatusCode);
        }

        await AssertTooManyAsync(await sender.PostAsJsonAsync(url, new { user_input = "x" }));
    }

    [Fact]
    public async Task ASignedWebhookDelivery_CountsAgainstItsTeam_OnlyOnceVerified_AndARefusedOneCanBeSentAgain()
    {
        // On a clock the test moves (this host has no Redis: the node's own counters follow the app's TimeProvider), so the
        // window passes when the test says, not after a wait. Jobs off: they would follow that clock too.
        var clock = new FakeTimeProvider(TimeProvider.System.GetUtcNow());
        await using var limited = app.WithWebHostBuilder(b =>
        {
            b.UseSetting("RateLimits:PerTeam:PerSecond", "1");
            b.UseSetting("RateLimits:PerTeam:PerMinute", "0");
            b.UseSetting("Jobs:Enabled", "false");
            b.ConfigureTestServices(s => s.AddSingleton<TimeProvider>(clock));
        });
        var team = await TestData.CreateTeamAsync(limited.Services);
        string secret;
        await using (var scope = limited.Services.CreateAsyncScope())
        {
            scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(team.Id, team.OwnerId, TeamRole.Owner);
            secret = (await scope.ServiceProvider.GetRequiredService<WebhookSecretService>().CreateAsync()).Secret;
        }

        using var sender = limited.CreateClient();
        var path = $"/api/v1/webhooks/ci?team={team.Id}";
        HttpRequestMessage Delivery(string body, string? signature)
        {
            var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
            if (signature is not null)
            {
                request.Headers.TryAddWithoutValidation("X-EvalPlatform-Signature", signature);
            }

            return request;
        }

        string Sign(string body)
        {
            var t = limited.Services.GetRequiredService<TimeProvider>().GetUtcNow().ToUnixTimeSeconds();
            return $"t={t.ToString(CultureInfo.InvariantCulture)},v1=" +
                Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes($"{t}.{path}.{body}")));
        }

        // Unsigned (or wrongly signed) posts do not spend the team's budget.
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await sender.SendAsync(Delivery("""{"user_input":"forged"}""", null))).StatusCode);
        }

        Assert.Equal(HttpStatusCode.Created, (await sender.SendAsync(Delivery("""{"user_input":"one"}""", Sign("""{"user_input":"one"}""")))).StatusCode);
        const string second = """{"user_input":"two"}""";
        var signature = Sign(second);
        await AssertTooManyAsync(await sender.SendAsync(Delivery(second, signature)));

        // Refused before the replay memory: the same delivery, sent again once the window has passed, is taken.
        clock.Advance(TimeSpan.FromSeconds(1.2));
        Assert.Equal(HttpStatusCode.Created, (await sender.SendAsync(Delivery(second, signature))).StatusCode);
    }

    [Fact]
    public async Task WhenRedisCannotBeReached_IngestionFailsOpen_AndIsCounted_WhileSignInFallsBackToTheNodesOwnCount()
    {
        var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var deadPort = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var options = ConfigurationOptions.Parse($"127.0.0.1:{deadPort}");
        options.AbortOnConnectFail = false;
        options.ConnectTimeout = 200;
        await using var dead = await ConnectionMultiplexer.ConnectAsync(options);
        await using var down = app.WithWebHostBuilder(b =>
        {
            b.UseSetting("RateLimits:PerKey:PerMinute", "1");
            b.UseSetting("RateLimits:SignIn:PerMinute", "1");
            // The rate limits' Redis is unreachable (the rest of this host runs without Redis).
            b.ConfigureTestServices(s => s.AddSingleton<IRateLimitCounter>(sp =>
                new RedisRateLimitCounter(dead, sp.GetRequiredService<IOptions<RateLimitOptions>>())));
        });
        var (api, _) = await ApiClient.ForNewTeamAsync(down);
        using var _ = api;
        var limits = down.Services.GetRequiredService<RateLimitService>();

        // Over the key's limit of 1, and still accepted: nothing could be counted.
        await api.PostTraceAsync(new { user_input = "first" });
        await api.PostTraceAsync(new { user_input = "second" });
        await api.PostTraceAsync(new { user_input = "third" });
        Assert.True(limits.FailedOpen >= 3, $"counted {limits.FailedOpen}");

        await TestData.CreateUserAsync(down.Services);
        using var browser = down.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = true });
        var wrong = new Dictionary<string, string> { ["Input.Email"] = "nobody@example.com", ["Input.Password"] = "wrong-password-1" };
        Assert.NotEqual(HttpStatusCode.TooManyRequests, (await FormPoster.SubmitAsync(browser, "/account/login", "login", wrong)).StatusCode);
        await AssertTooManyAsync(await FormPoster.SubmitAsync(browser, "/account/login", "login", wrong));
    }

    [Fact]
    public async Task WithRateLimitsOff_NothingIsRefused()
    {
        await using var off = With(("RateLimits:Enabled", "false"), ("RateLimits:PerKey:PerMinute", "1"));
        var (api, _) = await ApiClient.ForNewTeamAsync(off);
        using var _ = api;

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await api.Http.GetAsync("/api/v1/whoami")).StatusCode);
        }
    }
}

/// <summary>Two nodes of one installation (one database, one Redis): a key's limit is one limit, wherever its requests land.</summary>
public sealed class RateLimitAcrossNodesTests : IAsyncLifetime
{
    private readonly EvalAppFactory _installation = new(TestDatabase.Sqlite, redis: true);

    public Task InitializeAsync() => ((IAsyncLifetime)_installation).InitializeAsync();

    public Task DisposeAsync() => ((IAsyncLifetime)_installation).DisposeAsync();

    [Fact]
    public async Task AKeysLimit_IsSharedAcrossNodesThroughRedis()
    {
        var prefix = $"evaltest:{Guid.NewGuid():N}:ratelimit:";
        WebApplicationFactory<Program> Node() => _installation.WithWebHostBuilder(b =>
        {
            b.UseSetting("RateLimits:PerKey:PerMinute", "4");
            b.UseSetting("RateLimits:RedisKeyPrefix", prefix);
        });
        await using var nodeA = Node();
        await using var nodeB = Node();
        var team = await TestData.CreateTeamAsync(nodeA.Services);
        var key = await TestData.CreateKeyAsync(nodeA.Services, team.Id, ApiKeyScopes.Read);
        using var onA = nodeA.CreateClient();
        using var onB = nodeB.CreateClient();
        onA.DefaultRequestHeaders.Authorization = onB.DefaultRequestHeaders.Authorization = new("Bearer", key.Key);
        Assert.IsType<RedisRateLimitCounter>(nodeB.Services.GetRequiredService<IRateLimitCounter>());

        Assert.Equal(HttpStatusCode.OK, (await onA.GetAsync("/api/v1/whoami")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await onB.GetAsync("/api/v1/whoami")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await onA.GetAsync("/api/v1/whoami")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await onB.GetAsync("/api/v1/whoami")).StatusCode);

        // Each node has seen only 2 of the key's requests; together they have seen its 4.
        var refused = await onA.GetAsync("/api/v1/whoami");
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await onB.GetAsync("/api/v1/whoami")).StatusCode);
        Assert.NotNull(refused.Headers.RetryAfter?.Delta);
    }
}
