using System.Net;
using System.Text;
using System.Text.Json;
using EvalPlatform.Core.Common;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Providers;
using EvalPlatform.Core.Queues;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Core.Traces;
using EvalPlatform.Data;
using EvalPlatform.Tests.Infrastructure;
using Microsoft.AspNetCore.Components.Endpoints;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Patterns;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace EvalPlatform.Tests.Integration.Teams;

/// <summary>
/// Team A with one of each object (trace, queue, channel, alert rule, experiment, provider connection, key, member, invitation),
/// team B with a key of every scope and a member of every role, on one app and one database for the whole matrix.
/// </summary>
public sealed class IsolationMatrixFixture : IAsyncLifetime
{
    public PostgresAppFactory App { get; } = new();

    /// <summary>In every name of team A's objects: seen in a response to team B, it is a leak.</summary>
    public string Marker { get; } = "isoA" + Guid.NewGuid().ToString("N")[..10];

    public TestTeam A { get; private set; } = default!;
    public TestTeam B { get; private set; } = default!;

    /// <summary>Team A's real ids by the route segment that names them (<c>traces</c> → the trace's id).</summary>
    public Dictionary<string, string> IdsOfA { get; } = new(StringComparer.Ordinal);

    public string KeyOfA { get; private set; } = "";
    public Dictionary<string, string> KeysOfB { get; } = new(StringComparer.Ordinal);
    public Dictionary<TeamRole, string> EmailsOfB { get; } = [];

    public async Task InitializeAsync()
    {
        await App.InitializeAsync();
        A = await TestData.CreateTeamAsync(App.Services, Marker + "-team");
        B = await TestData.CreateTeamAsync(App.Services);

        var keyA = await TestData.CreateKeyAsync(App.Services, A.Id, ApiKeyScopesText.All, Marker + "-key");
        KeyOfA = keyA.Key;
        IdsOfA["api-keys"] = keyA.Info.Id.ToString();
        using var api = Client(KeyOfA);

        IdsOfA["traces"] = (await CreatedAsync(api, "/api/v1/traces", new { user_input = Marker + " question", response = Marker + " answer", name = Marker + "-trace", model = "gpt-4o" })).GetProperty("id").GetString()!;
        IdsOfA["notification-channels"] = (await CreatedAsync(api, "/api/v1/notification-channels", ChannelBody())).GetProperty("channel").GetProperty("id").GetString()!;
        IdsOfA["rules"] = (await CreatedAsync(api, "/api/v1/alerts/rules", RuleBody())).GetProperty("id").GetString()!;
        await CreatedAsync(api, "/api/v1/experiments", ExperimentBody());
        IdsOfA["experiments"] = ExperimentKey;
        IdsOfA["invitations"] = (await CreatedAsync(api, "/api/v1/invitations", new { email = Marker + "@example.test", role = "viewer" })).GetProperty("id").GetString()!;
        IdsOfA["members"] = (await TestData.CreateMemberAsync(App.Services, A.Id, TeamRole.Reviewer)).UserId;
        IdsOfA["views"] = (await CreatedAsync(api, "/api/v1/views", new { name = Marker + "-view", shared = true, filter = new { model = "gpt" } })).GetProperty("id").GetString()!;

        await using (var scope = App.Services.CreateAsyncScope())
        {
            scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(A.Id, A.OwnerId, TeamRole.Owner);
            var queue = await scope.ServiceProvider.GetRequiredService<QueueService>().CreateAsync(new QueueDefinition(Marker + "-queue", new TraceFilter()));
            IdsOfA["queues"] = queue.Id.ToString();
            IdsOfA["review"] = queue.Id.ToString();

            // Inserted directly: creating one through the service resolves the provider's host, and this machine has no DNS.
            await using var db = await scope.ServiceProvider.GetRequiredService<IEvalDbContextFactory>().CreateAsync();
            var now = TimeProvider.System.GetUtcNow();
            var connection = new ProviderConnection
            {
                Id = Uuid7.Create(now), TeamId = A.Id, Kind = ProviderKind.OpenAi, Name = Marker + "-provider", BaseUrl = "https://api.openai.com/v1",
                ProtectedApiKey = scope.ServiceProvider.GetRequiredService<IProviderKeyProtector>().Protect(A.Id, "sk-iso-not-a-real-key-1234"), KeyHint = "1234", CreatedAt = now,
            };
            db.ProviderConnections.Add(connection);
            await db.SaveChangesAsync();
            IdsOfA["providers"] = connection.Id.ToString();

            // Inserted directly too: creating one through the service asks LangSmith for the projects.
            var langSmith = new EvalPlatform.Core.LangSmith.Connector.LangSmithConnection
            {
                Id = Uuid7.Create(now), TeamId = A.Id, ApiUrl = "https://api.smith.langchain.com", KeyHint = "5678", FeedbackKey = Marker + "-feedback",
                ProtectedApiKey = scope.ServiceProvider.GetRequiredService<EvalPlatform.Core.LangSmith.Connector.ILangSmithKeyProtector>().Protect(A.Id, "lsv2-iso-not-a-real-key-5678"),
                SyncIntervalMinutes = 15, PushFeedback = true, CreatedAt = now, NextSyncAt = now.AddDays(1),
            };
            db.LangSmithConnections.Add(langSmith);
            db.LangSmithProjects.Add(new EvalPlatform.Core.LangSmith.Connector.LangSmithProject
            {
                Id = Uuid7.Create(now), TeamId = A.Id, ConnectionId = langSmith.Id, ProjectId = Guid.NewGuid(), Name = Marker + "-langsmith-project",
            });
            await db.SaveChangesAsync();
            IdsOfA["langsmith"] = langSmith.Id.ToString();
            var evaluator = new Core.Evaluators.Evaluator
            {
                Id = Uuid7.Create(now), TeamId = A.Id, Name = Marker + "-evaluator", ConnectionId = connection.Id, Model = "gpt-4o-mini",
                Prompt = "Grade {{output}}", CreatedAt = now, UpdatedAt = now, Watermark = now,
            };
            db.Evaluators.Add(evaluator);
            var run = new Core.Batches.BatchRun
            {
                Id = Uuid7.Create(now), TeamId = A.Id, Kind = Core.Evaluators.EvaluatorBatchHandler.BatchKind, SubjectId = evaluator.Id,
                Title = Marker + "-run", Status = Core.Batches.BatchRunStatus.Completed, Total = 1, Done = 1, CreatedAt = now, Payload = "{}",
            };
            db.BatchRuns.Add(run);
            await db.SaveChangesAsync();
            IdsOfA["evaluators"] = evaluator.Id.ToString();
            IdsOfA["batch-runs"] = run.Id.ToString();

            // A playground batch of team A with one result (its answer carries the marker).
            var batch = new Core.Batches.BatchRun
            {
                Id = Uuid7.Create(now), TeamId = A.Id, Kind = Core.Playground.PlaygroundBatchHandler.BatchKind, Title = Marker + "-batch",
                Status = Core.Batches.BatchRunStatus.Completed, Total = 1, Done = 1, CreatedAt = now,
                Payload = Core.Playground.PlaygroundBatchHandler.Write(new Core.Playground.PlaygroundBatchHandler.Payload(
                    new Core.Playground.PlaygroundPrompt(null, [new Core.Playground.PlaygroundMessage("user", "{{input}}")]),
                    [new Core.Playground.PlaygroundConfig(connection.Id, "gpt-4o-mini")], [Guid.Parse(IdsOfA["traces"])])),
            };
            db.BatchRuns.Add(batch);
            db.PlaygroundBatchResults.Add(new Core.Playground.PlaygroundBatchResult
            {
                Id = Uuid7.Create(now), TeamId = A.Id, BatchRunId = batch.Id, TraceId = Guid.Parse(IdsOfA["traces"]), Model = "gpt-4o-mini",
                Text = Marker + " batch answer", CreatedAt = now,
            });
            await db.SaveChangesAsync();
            IdsOfA["batches"] = batch.Id.ToString();
        }

        IdsOfA["alerts"] = IdsOfA["rules"];
        foreach (var (name, scopes) in new[]
                 {
                     ("ingest", ApiKeyScopes.Ingest), ("read", ApiKeyScopes.Read), ("review", ApiKeyScopes.Review), ("admin", ApiKeyScopes.Admin),
                     ("all", ApiKeyScopesText.All),
                 })
        {
            KeysOfB[name] = (await TestData.CreateKeyAsync(App.Services, B.Id, scopes, "b " + name)).Key;
        }

        EmailsOfB[TeamRole.Owner] = B.OwnerEmail;
        foreach (var role in new[] { TeamRole.Viewer, TeamRole.Reviewer, TeamRole.Admin })
        {
            EmailsOfB[role] = (await TestData.CreateMemberAsync(App.Services, B.Id, role)).Email;
        }
    }

    public const string ExperimentKey = "iso-experiment";

    public static object ChannelBody() => new { name = "iso channel", type = "slack_bot", token = "xoxb-iso", channel = "#iso", event_types = new[] { "trace.reviewed" } };

    public object RuleBody() => new
    {
        name = Marker + "-rule", metric = "error_rate", window_minutes = 15, condition = new { op = "above", value = 0.2 }, for_evaluations = 1,
        min_samples = 5, cooldown_minutes = 0, group_by = "user_id", severity = "critical",
    };

    public object ExperimentBody() => new
    {
        key = ExperimentKey, name = Marker + "-experiment", hypothesis = "iso", unit = "user_id", coverage = 1,
        variants = new[]
        {
            new { key = "control", name = "Control", weight = 0.5, config = new { model = "gpt-4o" } },
            new { key = "treatment", name = "Treatment", weight = 0.5, config = new { model = "gpt-4o-mini" } },
        },
        primary_metric = "acceptance_rate", guardrails = new[] { "error_rate" }, minimum_detectable_effect = 0.05, significance_level = 0.05,
    };

    public HttpClient Client(string key)
    {
        var http = App.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
        return http;
    }

    public async Task<HttpClient> BrowserAsync(string email)
    {
        var browser = App.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = true });
        var signIn = await FormPoster.SubmitAsync(browser, "/account/login", "login",
            new Dictionary<string, string> { ["Input.Email"] = email, ["Input.Password"] = TestData.Password });
        Assert.Equal(HttpStatusCode.Redirect, signIn.StatusCode);
        return browser;
    }

    private static async Task<JsonElement> CreatedAsync(HttpClient api, string url, object body)
    {
        var response = await api.PostAsync(url, new StringContent(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json"));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"seeding {url}: {(int)response.StatusCode} {text}");
        return JsonDocument.Parse(text).RootElement;
    }

    Task IAsyncLifetime.DisposeAsync() => ((IAsyncLifetime)App).DisposeAsync();
}

/// <summary>
/// The generated isolation matrix (ADR 38): every endpoint the app maps is either called with team B's keys of every scope (API)
/// or team B's members of every role (pages, cookie routes) against team A's real ids, or is exempt here with its reason.
/// Team B never gets a 2xx for team A's object and never sees team A's data.
/// </summary>
public sealed class IsolationMatrixTests(IsolationMatrixFixture f, ITestOutputHelper output) : IClassFixture<IsolationMatrixFixture>
{
    /// <summary>Routes the matrix does not call, each with why. A new route is neither here nor called: the matrix fails.</summary>
    private static readonly Dictionary<string, string> Exempt = new(StringComparer.Ordinal)
    {
        ["/api/v1/webhooks/{source}"] = "anonymous: the team is proven by the delivery's signature (WebhookTests cover a wrong team's secret)",
        ["/invite/{Token}"] = "the token is the credential: whoever holds the link may see the invitation (InvitationTests cover unknown, used and revoked links)",
        ["/account/logout"] = "signs the caller out; reads and writes no team's data",
        ["/"] = "a redirect to /traces",
        ["/Error"] = "the error page; shows no data",
        ["/api/langsmith/runs/{id:guid}"] = "a run id is the sender's own, looked up within the key's team only: with team B's key it names team B's run, there is no team-A object to address",
        ["/{**path:file}"] = "the static web assets' fallback: files, no team's data",
        ["/metrics"] = "the Prometheus scrape (off unless Observability:PrometheusEnabled): instruments carry no team id by construction (ADR 48); ObservabilityTests check a team's id is absent",
    };

    /// <summary>Bodies that pass validation for routes that validate before they look the object up (a 400 would hide the lookup).</summary>
    private Dictionary<string, object> Bodies() => new(StringComparer.Ordinal)
    {
        ["PATCH /api/v1/traces/{id}"] = new { response = "done" },
        ["POST /api/v1/traces/{id}/scores"] = new { scores = new[] { new { name = "quality", value = 1 } } },
        ["POST /api/v1/traces/{id}/review"] = new { action = "accept" },
        ["PUT /api/v1/notification-channels/{id}"] = IsolationMatrixFixture.ChannelBody(),
        ["PUT /api/v1/alerts/rules/{id}"] = f.RuleBody(),
        ["POST /api/v1/alerts/rules/{id}/snooze"] = new { minutes = 10 },
        ["PUT /api/v1/experiments/{key}"] = f.ExperimentBody(),
        ["POST /api/v1/experiments/{key}/stop"] = new { decision = "inconclusive", note = "iso" },
        ["POST /api/v1/experiments/{key}/assign"] = new { unit_id = "u1" },
        ["PUT /api/v1/evaluators/{id}"] = new { name = "iso", connection_id = f.IdsOfA["providers"], model = "gpt-4o-mini", prompt = "Grade {{output}}", output = "pass_fail" },
        ["PUT /api/v1/views/{id}"] = new { name = "iso view", shared = true },
        ["POST /api/v1/evaluators/{id}/run"] = new { trace_ids = new[] { f.IdsOfA["traces"] } },
        // Valid but for team A's queue and connection: team B's keys must get a problem, never a batch over team A's traces.
        ["POST /api/v1/playground/batches"] = new
        {
            messages = new[] { new { role = "user", content = "{{input}}" } },
            configs = new[] { new { connection_id = f.IdsOfA["providers"], model = "gpt-4o-mini" } },
            source = new { queue_id = f.IdsOfA["queues"] },
        },
    };

    private sealed record Route(string Method, string Pattern, RouteEndpoint Endpoint)
    {
        public bool IsPage => Endpoint.Metadata.GetMetadata<ComponentTypeMetadata>() is not null;
        public bool IsAnonymous => Endpoint.Metadata.GetMetadata<Microsoft.AspNetCore.Authorization.IAllowAnonymous>() is not null;
        public string Name => $"{Method} {Pattern}";
    }

    [Fact]
    public async Task EveryEndpoint_CalledByAnotherTeam_AnswersNotFoundOrForbidden_AndShowsNothingOfTheTeam()
    {
        var routes = Routes();
        Assert.True(routes.Count > 80, $"found only {routes.Count} routes");
        var failures = new List<string>();
        var notCovered = new List<string>();
        var called = 0;

        var browsers = new Dictionary<TeamRole, HttpClient>();
        foreach (var (role, email) in f.EmailsOfB)
        {
            browsers[role] = await f.BrowserAsync(email);
        }

        foreach (var route in routes.OrderBy(r => r.Method == "DELETE" ? 1 : 0).ThenBy(r => r.Pattern, StringComparer.Ordinal))
        {
            if (Exempt.ContainsKey(route.Pattern) || Exempt.ContainsKey(route.Name) || IsFramework(route.Pattern))
            {
                continue;
            }

            var url = Fill(route.Endpoint.RoutePattern, out var usesIdsOfA, out var unknown);
            if (unknown is not null)
            {
                notCovered.Add($"{route.Name}: no value for '{{{unknown}}}'");
                continue;
            }

            if (ApiPermissionPolicyTests.IsKeyRoute(route.Pattern) && !route.IsAnonymous)
            {
                foreach (var (scope, key) in f.KeysOfB)
                {
                    using var client = f.Client(key);
                    using var response = await SendAsync(client, route, url);
                    called++;
                    await JudgeAsync(failures, $"{route.Name} with B's '{scope}' key", response, usesIdsOfA);
                }
            }
            else if (route.IsPage || route.Endpoint.Metadata.GetMetadata<Microsoft.AspNetCore.Authorization.IAuthorizeData>() is not null)
            {
                if (route.Method != "GET")
                {
                    continue; // a page's form posts are its GET's business; the GET is judged
                }

                var pageUrl = route.Pattern == "/traces/export" ? $"{url}?team={f.A.Id}&format=jsonl" : url;
                foreach (var (role, browser) in browsers)
                {
                    using var response = await browser.GetAsync(pageUrl);
                    called++;
                    await JudgeAsync(failures, $"{route.Name} as B's {role}", response, usesIdsOfA || pageUrl.Contains(f.A.Id.ToString(), StringComparison.Ordinal), page: route.IsPage);
                }
            }
            else if (route.IsAnonymous)
            {
                using var anonymous = f.App.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
                using var response = await SendAsync(anonymous, route, url);
                called++;
                await JudgeAsync(failures, $"{route.Name} anonymously", response, usesIdsOfA: false);
            }
            else
            {
                notCovered.Add($"{route.Name}: neither an API route, a page, a signed-in route nor anonymous");
            }
        }

        output.WriteLine($"{routes.Count} routes, {called} calls by team B");
        Assert.True(notCovered.Count + failures.Count == 0,
            "Routes the matrix cannot call (exempt them with a reason, or teach Fill their parameter):\n" + string.Join('\n', notCovered) +
            $"\n{failures.Count} isolation failures:\n" + string.Join('\n', failures));
    }

    [Fact]
    public async Task TeamAsOwnKeyAndOwner_SeeTheSameObjects_SoTheIdsAreReal()
    {
        using var own = f.Client(f.KeyOfA);
        foreach (var route in Routes().Where(r => r.Method == "GET" && ApiPermissionPolicyTests.IsKeyRoute(r.Pattern) && !r.IsAnonymous))
        {
            var url = Fill(route.Endpoint.RoutePattern, out var usesIdsOfA, out var unknown);
            if (!usesIdsOfA || unknown is not null)
            {
                continue;
            }

            using var response = await own.GetAsync(url);
            Assert.True(response.IsSuccessStatusCode || response.StatusCode == HttpStatusCode.BadGateway,
                $"{route.Name} for team A itself: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }

        using var owner = await f.BrowserAsync(f.A.OwnerEmail);
        foreach (var url in new[] { $"/traces/{f.IdsOfA["traces"]}", $"/settings/alerts/{f.IdsOfA["rules"]}", $"/experiments/{IsolationMatrixFixture.ExperimentKey}", $"/review/{f.IdsOfA["queues"]}" })
        {
            var html = await owner.GetStringAsync(url);
            Assert.True(html.Contains(f.Marker, StringComparison.Ordinal), $"{url} does not show team A's own object to its owner, so its absence for team B would prove nothing");
        }
    }

    [Fact]
    public async Task EveryTeamOwnedEntity_WithRowsOfTeamA_ShowsNoneToTeamB()
    {
        await using var scope = f.App.Services.CreateAsyncScope();
        scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(f.B.Id, f.B.OwnerId, TeamRole.Owner);
        var db = scope.ServiceProvider.GetRequiredService<EvalDbContext>();
        var withRows = new List<string>();
        foreach (var entity in TeamModelWalkTests.EntityTypes(db).Where(e => typeof(ITeamOwned).IsAssignableFrom(e.ClrType)))
        {
            if (await TeamModelWalkTests.CountOfTeamAsync(db, entity.ClrType, f.A.Id, ignoreFilters: true) > 0)
            {
                withRows.Add(entity.ClrType.Name);
                Assert.Equal(0, await TeamModelWalkTests.CountOfTeamAsync(db, entity.ClrType, f.A.Id, ignoreFilters: false));
            }
        }

        output.WriteLine("Team A has rows of: " + string.Join(", ", withRows));
        Assert.True(withRows.Count >= 8, "the seed made rows of most team-owned kinds: " + string.Join(", ", withRows));
    }

    private List<Route> Routes() =>
        f.App.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .SelectMany(e => (e.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? ["GET"])
                .Select(m => new Route(m, "/" + (e.RoutePattern.RawText ?? "").TrimStart('/'), e)))
            .Where(r => r.Method != "OPTIONS" && r.Method != "HEAD")
            .DistinctBy(r => r.Name)
            .ToList();

    /// <summary>Static files, Blazor's own endpoints, the health checks and the API description carry no team's data.</summary>
    private static bool IsFramework(string pattern) =>
        pattern.StartsWith("/_", StringComparison.Ordinal) || pattern.StartsWith("/health", StringComparison.Ordinal) ||
        pattern.StartsWith("/openapi", StringComparison.Ordinal) || pattern.StartsWith("/api/reference", StringComparison.Ordinal) ||
        pattern.Split('/')[^1].Contains('.', StringComparison.Ordinal);

    /// <summary>The route's URL with each parameter filled with team A's id for the segment before it.</summary>
    private string Fill(RoutePattern pattern, out bool usesIdsOfA, out string? unknown)
    {
        usesIdsOfA = false;
        unknown = null;
        var parts = new List<string>();
        var previous = "";
        foreach (var segment in pattern.PathSegments)
        {
            var text = new StringBuilder();
            foreach (var part in segment.Parts)
            {
                switch (part)
                {
                    case RoutePatternLiteralPart literal:
                        text.Append(literal.Content);
                        break;
                    case RoutePatternParameterPart parameter when parameter.IsCatchAll:
                        text.Append("models");
                        break;
                    case RoutePatternParameterPart parameter when parameter.Name == "deliveryId":
                        text.Append(Guid.NewGuid()); // team A's channel id in the same URL is what is judged
                        break;
                    case RoutePatternParameterPart parameter when f.IdsOfA.TryGetValue(previous, out var id):
                        text.Append(id);
                        usesIdsOfA = true;
                        break;
                    case RoutePatternParameterPart parameter:
                        unknown ??= parameter.Name;
                        break;
                }
            }

            var filled = text.ToString();
            parts.Add(filled);
            previous = segment.Parts is [RoutePatternLiteralPart only] ? only.Content : previous;
        }

        return "/" + string.Join('/', parts);
    }

    private async Task<HttpResponseMessage> SendAsync(HttpClient client, Route route, string url)
    {
        var request = new HttpRequestMessage(new HttpMethod(route.Method), url);
        if (route.Method is "POST" or "PUT" or "PATCH")
        {
            var body = Bodies().FirstOrDefault(b => Normalize(b.Key) == Normalize(route.Name)).Value ?? new { };
            request.Content = new StringContent(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json");
        }

        return await client.SendAsync(request);
    }

    /// <summary>"PUT /api/v1/alerts/rules/{id:guid}" and "PUT /api/v1/alerts/rules/{id}" alike.</summary>
    private static string Normalize(string name) => System.Text.RegularExpressions.Regex.Replace(name, ":[^}]+}", "}");

    private async Task JudgeAsync(List<string> failures, string what, HttpResponseMessage response, bool usesIdsOfA, bool page = false)
    {
        var body = await response.Content.ReadAsStringAsync();
        var status = (int)response.StatusCode;
        if (usesIdsOfA && !page && status is not (403 or 404))
        {
            failures.Add($"{what}: {status} for team A's object (expected 404 or 403): {Clip(body)}");
        }

        if (status >= 500 && status != 502)
        {
            failures.Add($"{what}: {status} {Clip(body)}");
        }

        foreach (var secret in new[] { f.Marker, f.A.Id.ToString(), f.A.OwnerEmail }.Concat(usesIdsOfA ? [] : f.IdsOfA.Values))
        {
            if (body.Contains(secret, StringComparison.OrdinalIgnoreCase))
            {
                failures.Add($"{what}: {status} shows team A's '{secret}'");
            }
        }
    }

    private static string Clip(string text) => text.Length <= 200 ? text : text[..200];
}
