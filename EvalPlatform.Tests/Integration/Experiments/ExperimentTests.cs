using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using EvalPlatform.Core.Common;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Experiments;
using EvalPlatform.Core.Notifications;
using EvalPlatform.Core.Scores;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Core.Traces;
using EvalPlatform.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace EvalPlatform.Tests.Integration.Experiments;

/// <summary>
/// Experiments end to end on each database: the API (snake_case, 400s naming the field, scopes, 404s), the lifecycle and its
/// history, permissions in the service, sticky assignment with exposures, the definitions with their ETag, results from seeded
/// traces equal to hand-computed sufficient statistics, the analysis job's once-per-transition notifications, and isolation.
/// </summary>
public abstract class ExperimentTests(ClockedAppFactory app)
{
    private const ApiKeyScopes All = ApiKeyScopes.Ingest | ApiKeyScopes.Read | ApiKeyScopes.Admin;

    public static object Definition(string key = "checkout-test", double[]? weights = null, double coverage = 1, string unit = "user_id",
        string metric = "acceptance_rate", string[]? guardrails = null) => new
    {
        key, name = "Checkout prompt", hypothesis = "A shorter prompt is accepted more often.", unit, coverage,
        variants = (weights ?? [0.5, 0.5]).Select((w, i) => new
        {
            key = i == 0 ? "control" : $"treatment{(i == 1 ? "" : i.ToString(System.Globalization.CultureInfo.InvariantCulture))}",
            name = i == 0 ? "Control" : $"Treatment {i}", weight = w, config = new { model = i == 0 ? "gpt-4o" : "gpt-4o-mini", temperature = 0.2 },
        }).ToArray(),
        primary_metric = metric, guardrails = guardrails ?? ["error_rate", "latency"], filters = new { environment = "production" },
        minimum_detectable_effect = 0.05, significance_level = 0.05,
    };

    private static async Task<JsonElement> CreateAsync(ApiClient api, object definition)
    {
        var response = await api.PostJsonAsync("/api/v1/experiments", definition);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"{(int)response.StatusCode}: {body}");
        return JsonDocument.Parse(body).RootElement;
    }

    private static async Task<JsonElement> PostOkAsync(ApiClient api, string url, object? body = null)
    {
        var response = body is null ? await api.Http.PostAsync(url, null) : await api.PostJsonAsync(url, body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{url}: {(int)response.StatusCode}: {text}");
        return JsonDocument.Parse(text).RootElement;
    }

    private static async Task AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status, string? field = null)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"expected {(int)status}, got {(int)response.StatusCode}: {body}");
        if (field is not null)
        {
            Assert.Contains($"\"{field}\"", body, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Api_CreatesReadsUpdatesAndRunsTheLifecycle_WithItsHistory()
    {
        var (api, _) = await ApiClient.ForNewTeamAsync(app, All);
        var created = await CreateAsync(api, Definition());
        Assert.Equal("draft", created.GetProperty("status").GetString());
        Assert.Equal("user_id", created.GetProperty("unit").GetString());
        Assert.Equal("control", created.GetProperty("variants")[0].GetProperty("key").GetString());
        Assert.Equal("gpt-4o-mini", created.GetProperty("variants")[1].GetProperty("config").GetProperty("model").GetString());
        Assert.Equal("production", created.GetProperty("filters").GetProperty("environment").GetString());
        Assert.Equal(["error_rate", "latency"], created.GetProperty("guardrails").EnumerateArray().Select(g => g.GetString()));

        var list = await api.GetJsonAsync("/api/v1/experiments");
        Assert.Equal("checkout-test", Assert.Single(list.EnumerateArray()).GetProperty("key").GetString());

        // A draft may change anything, its key too.
        var renamed = await api.PutJsonAsync("/api/v1/experiments/checkout-test", Definition(key: "checkout-v2", weights: [0.4, 0.6]));
        Assert.Equal(HttpStatusCode.OK, renamed.StatusCode);
        await AssertProblemAsync(await api.Http.GetAsync("/api/v1/experiments/checkout-test"), HttpStatusCode.NotFound);

        Assert.Equal("running", (await PostOkAsync(api, "/api/v1/experiments/checkout-v2/start")).GetProperty("status").GetString());
        // Once it has run: weights change, the key, unit and variant keys do not.
        Assert.Equal(HttpStatusCode.OK, (await api.PutJsonAsync("/api/v1/experiments/checkout-v2", Definition(key: "checkout-v2", weights: [0.5, 0.5]))).StatusCode);
        await AssertProblemAsync(await api.PutJsonAsync("/api/v1/experiments/checkout-v2", Definition(key: "checkout-v3")), HttpStatusCode.BadRequest, "key");
        await AssertProblemAsync(await api.PutJsonAsync("/api/v1/experiments/checkout-v2", Definition(key: "checkout-v2", unit: "session_id")), HttpStatusCode.BadRequest, "unit");
        await AssertProblemAsync(await api.PutJsonAsync("/api/v1/experiments/checkout-v2", Definition(key: "checkout-v2", weights: [0.4, 0.3, 0.3])), HttpStatusCode.BadRequest, "variants");

        Assert.Equal("paused", (await PostOkAsync(api, "/api/v1/experiments/checkout-v2/pause")).GetProperty("status").GetString());
        await AssertProblemAsync(await api.Http.PostAsync("/api/v1/experiments/checkout-v2/pause", null), HttpStatusCode.Conflict);
        Assert.Equal("running", (await PostOkAsync(api, "/api/v1/experiments/checkout-v2/start")).GetProperty("status").GetString());
        await AssertProblemAsync(await api.PostJsonAsync("/api/v1/experiments/checkout-v2/stop", new { note = "x" }), HttpStatusCode.BadRequest, "decision");
        await AssertProblemAsync(await api.PostJsonAsync("/api/v1/experiments/checkout-v2/stop", new { decision = "ship" }), HttpStatusCode.BadRequest, "variant");
        await AssertProblemAsync(await api.PostJsonAsync("/api/v1/experiments/checkout-v2/stop", new { decision = "maybe" }), HttpStatusCode.BadRequest, "decision");
        var stopped = await PostOkAsync(api, "/api/v1/experiments/checkout-v2/stop", new { decision = "ship", variant = "treatment", note = "Cheaper and as good." });
        Assert.Equal(("stopped", "ship", "treatment", "Cheaper and as good."), (stopped.GetProperty("status").GetString(), stopped.GetProperty("decision").GetString(),
            stopped.GetProperty("decision_variant").GetString(), stopped.GetProperty("decision_note").GetString()));
        await AssertProblemAsync(await api.Http.PostAsync("/api/v1/experiments/checkout-v2/start", null), HttpStatusCode.Conflict);
        await AssertProblemAsync(await api.PutJsonAsync("/api/v1/experiments/checkout-v2", Definition(key: "checkout-v2")), HttpStatusCode.Conflict);

        var history = (await api.GetJsonAsync("/api/v1/experiments/checkout-v2/history")).EnumerateArray().ToList();
        Assert.Equal(["stopped", "resumed", "paused", "updated", "started", "updated", "created"], history.Select(h => h.GetProperty("action").GetString()));
        Assert.Contains("weights: 0.4/0.6 → 0.5/0.5", history[3].GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Contains("key: checkout-test → checkout-v2", history[5].GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal("Decision: ship treatment. Cheaper and as good.", history[0].GetProperty("detail").GetString());
        Assert.All(history, h => Assert.StartsWith("API key ", h.GetProperty("actor").GetString(), StringComparison.Ordinal));
    }

    [Fact]
    public async Task Api_BadInput_Is400NamingTheField()
    {
        var (api, _) = await ApiClient.ForNewTeamAsync(app, All);
        var cases = new (string Json, string Field)[]
        {
            ("""{"key":"a b","name":"x","variants":[{"key":"c","weight":0.5},{"key":"t","weight":0.5}],"primary_metric":"acceptance_rate"}""", "key"),
            ("""{"key":"k","variants":[{"key":"c","weight":0.5},{"key":"t","weight":0.5}],"primary_metric":"acceptance_rate"}""", "name"),
            ("""{"key":"k","name":"x","variants":[{"key":"c","weight":0.5},{"key":"t","weight":0.6}],"primary_metric":"acceptance_rate"}""", "variants"),
            ("""{"key":"k","name":"x","variants":[{"key":"c","weight":1}],"primary_metric":"acceptance_rate"}""", "variants"),
            ("""{"key":"k","name":"x","variants":[{"key":"c","weight":0.5},{"key":"c","weight":0.5}],"primary_metric":"acceptance_rate"}""", "variants[1].key"),
            ("""{"key":"k","name":"x","variants":[{"key":"c","weight":0.5},{"key":"t","weight":0.5,"config":[1]}],"primary_metric":"acceptance_rate"}""", "variants[1].config"),
            ("""{"key":"k","name":"x","variants":[{"key":"c","weight":0.5},{"key":"t"}],"primary_metric":"acceptance_rate"}""", "variants[1].weight"),
            ("""{"key":"k","name":"x","variants":[{"key":"c","weight":0.5},{"key":"t","weight":0.5}],"primary_metric":"happiness"}""", "primary_metric"),
            ("""{"key":"k","name":"x","variants":[{"key":"c","weight":0.5},{"key":"t","weight":0.5}],"primary_metric":"acceptance_rate","guardrails":["acceptance_rate"]}""", "guardrails[0]"),
            ("""{"key":"k","name":"x","variants":[{"key":"c","weight":0.5},{"key":"t","weight":0.5}],"primary_metric":"latency","guardrails":["nope"]}""", "guardrails[0]"),
            ("""{"key":"k","name":"x","unit":"device","variants":[{"key":"c","weight":0.5},{"key":"t","weight":0.5}],"primary_metric":"latency"}""", "unit"),
            ("""{"key":"k","name":"x","coverage":1.5,"variants":[{"key":"c","weight":0.5},{"key":"t","weight":0.5}],"primary_metric":"latency"}""", "coverage"),
            ("""{"key":"k","name":"x","coverage":"all","variants":[{"key":"c","weight":0.5},{"key":"t","weight":0.5}],"primary_metric":"latency"}""", "coverage"),
            ("""{"key":"k","name":"x","variants":[{"key":"c","weight":0.5},{"key":"t","weight":0.5}],"primary_metric":"latency","significance_level":0.9}""", "significance_level"),
            ("""{"key":"k","name":"x","variants":[{"key":"c","weight":0.5},{"key":"t","weight":0.5}],"primary_metric":"latency","minimum_detectable_effect":0}""", "minimum_detectable_effect"),
            ("""{"key":"k","name":"x","variants":[{"key":"c","weight":0.5},{"key":"t","weight":0.5}],"primary_metric":"latency","colour":"red"}""", "colour"),
        };
        foreach (var (json, field) in cases)
        {
            await AssertProblemAsync(await api.PostJsonAsync("/api/v1/experiments", json), HttpStatusCode.BadRequest, field);
        }

        await CreateAsync(api, Definition());
        await AssertProblemAsync(await api.PostJsonAsync("/api/v1/experiments", Definition()), HttpStatusCode.BadRequest, "key");
        Assert.Single((await api.GetJsonAsync("/api/v1/experiments")).EnumerateArray());
    }

    [Fact]
    public async Task Api_Scopes_AndUnknownKeys()
    {
        var (admin, team) = await ApiClient.ForNewTeamAsync(app, All);
        await CreateAsync(admin, Definition());
        using var ingest = await ApiClient.ForTeamAsync(app, team.Id, ApiKeyScopes.Ingest);
        using var read = await ApiClient.ForTeamAsync(app, team.Id, ApiKeyScopes.Read);
        await AssertProblemAsync(await read.PostJsonAsync("/api/v1/experiments", Definition(key: "other")), HttpStatusCode.Forbidden);
        await AssertProblemAsync(await ingest.PostJsonAsync("/api/v1/experiments", Definition(key: "other")), HttpStatusCode.Forbidden);
        await AssertProblemAsync(await read.Http.PostAsync("/api/v1/experiments/checkout-test/start", null), HttpStatusCode.Forbidden);
        await AssertProblemAsync(await ingest.Http.GetAsync("/api/v1/experiments/checkout-test"), HttpStatusCode.Forbidden);
        await AssertProblemAsync(await read.PostJsonAsync("/api/v1/experiments/checkout-test/assign", new { unit_id = "u" }), HttpStatusCode.Forbidden);
        Assert.Equal(HttpStatusCode.OK, (await read.Http.GetAsync("/api/v1/experiments/checkout-test")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await read.Http.GetAsync("/api/v1/experiments/definitions")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await ingest.Http.GetAsync("/api/v1/experiments/definitions")).StatusCode);
        await AssertProblemAsync(await admin.Http.GetAsync("/api/v1/experiments/nope"), HttpStatusCode.NotFound);
        await AssertProblemAsync(await admin.Http.GetAsync("/api/v1/experiments/nope/results"), HttpStatusCode.NotFound);
        await AssertProblemAsync(await admin.Http.PostAsync("/api/v1/experiments/nope/start", null), HttpStatusCode.NotFound);
        await AssertProblemAsync(await ingest.PostJsonAsync("/api/v1/experiments/nope/assign", new { unit_id = "u" }), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Service_OnlyAdminsAndOwnersManage_EveryoneReads()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        var (admin, _) = await TestData.CreateMemberAsync(app.Services, team.Id, TeamRole.Admin);
        var (reviewer, _) = await TestData.CreateMemberAsync(app.Services, team.Id, TeamRole.Reviewer);
        var definition = new ExperimentDefinition("perm-test", "Permissions", null, ExperimentUnit.SessionId, 1,
            [new ExperimentVariant("a", "A", 0.5), new ExperimentVariant("b", "B", 0.5, """{"temperature": 0.7}""")], new ExperimentMetric(ExperimentMetricType.HumanScore));

        await using (var scope = app.Services.CreateAsyncScope())
        {
            scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(team.Id, reviewer, TeamRole.Reviewer);
            var service = scope.ServiceProvider.GetRequiredService<ExperimentService>();
            await Assert.ThrowsAsync<PermissionDeniedException>(() => service.CreateAsync(definition));
        }

        await using (var scope = app.Services.CreateAsyncScope())
        {
            scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(team.Id, admin, TeamRole.Admin);
            var service = scope.ServiceProvider.GetRequiredService<ExperimentService>();
            await service.CreateAsync(definition);
            await service.StartAsync("perm-test");
        }

        await using (var scope = app.Services.CreateAsyncScope())
        {
            scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(team.Id, reviewer, TeamRole.Reviewer);
            var service = scope.ServiceProvider.GetRequiredService<ExperimentService>();
            Assert.Equal(ExperimentStatus.Running, (await service.GetAsync("perm-test")).Status);
            await Assert.ThrowsAsync<PermissionDeniedException>(() => service.PauseAsync("perm-test"));
            await Assert.ThrowsAsync<PermissionDeniedException>(() => service.StopAsync("perm-test", ExperimentDecision.Rollback, null, null));
            var history = await service.HistoryAsync("perm-test");
            Assert.Equal(["started", "created"], history.Select(h => h.Action));
            Assert.All(history, h => Assert.NotEqual("someone", h.Actor));
        }

        await using (var scope = app.Services.CreateAsyncScope())
        {
            scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(team.Id, team.OwnerId, TeamRole.Owner);
            var stopped = await scope.ServiceProvider.GetRequiredService<ExperimentService>().StopAsync("perm-test", ExperimentDecision.Rollback, null, "  ");
            Assert.Equal((ExperimentStatus.Stopped, ExperimentDecision.Rollback, null), (stopped.Status, stopped.Decision, stopped.DecisionNote));
        }
    }

    [Fact]
    public async Task Assign_IsGrowthBooksVariant_StickyAcrossAWeightChange_AndCountsExposures()
    {
        var (api, team) = await ApiClient.ForNewTeamAsync(app, All);
        await CreateAsync(api, new
        {
            key = "checkout-test", name = "GrowthBook vectors", unit = "user_id", coverage = 0.9,
            variants = new[] { new { key = "a", weight = 0.5 }, new { key = "b", weight = 0.3 }, new { key = "c", weight = 0.2 } },
            primary_metric = "acceptance_rate",
        });

        // Not running yet: nobody is in it, and nothing is stored.
        var draft = await PostOkAsync(api, "/api/v1/experiments/checkout-test/assign", new { unit_id = "user-1" });
        Assert.Equal(JsonValueKind.Null, draft.GetProperty("variant").ValueKind);
        Assert.False(draft.GetProperty("in_experiment").GetBoolean());
        await PostOkAsync(api, "/api/v1/experiments/checkout-test/start");

        // The reference's assignments: user-1 → b, user-2 and user-5 in the coverage gaps, user-3 → b, user-4 → c.
        var batch = (await PostOkAsync(api, "/api/v1/experiments/checkout-test/assign", new { unit_ids = new[] { "user-1", "user-2", "user-3", "user-4", "user-5", "user-1" } }))
            .GetProperty("assignments").EnumerateArray().ToList();
        Assert.Equal(["user-1:b", "user-2:", "user-3:b", "user-4:c", "user-5:", "user-1:b"],
            batch.Select(a => $"{a.GetProperty("unit_id").GetString()}:{a.GetProperty("variant").GetString()}"));
        Assert.Equal([true, false, true, true, false, true], batch.Select(a => a.GetProperty("in_experiment").GetBoolean()));
        var one = await PostOkAsync(api, "/api/v1/experiments/checkout-test/assign", new { unit_id = "user-4" });
        Assert.Equal(("checkout-test", "c", true), (one.GetProperty("experiment").GetString(), one.GetProperty("variant").GetString(), one.GetProperty("in_experiment").GetBoolean()));
        Assert.Equal(JsonValueKind.Object, one.GetProperty("config").ValueKind);

        // 300 more users, then everything moves to a: the stored users keep their variant, new users follow the new weights.
        var before = new Dictionary<string, string?>();
        var ids = Enumerable.Range(0, 300).Select(i => $"sticky-{i}").ToArray();
        foreach (var a in (await PostOkAsync(api, "/api/v1/experiments/checkout-test/assign", new { unit_ids = ids })).GetProperty("assignments").EnumerateArray())
        {
            before[a.GetProperty("unit_id").GetString()!] = a.GetProperty("variant").GetString();
        }

        Assert.Contains("b", before.Values);
        var changed = await api.PutJsonAsync("/api/v1/experiments/checkout-test", new
        {
            key = "checkout-test", name = "GrowthBook vectors", unit = "user_id", coverage = 1.0,
            variants = new[] { new { key = "a", weight = 1.0 }, new { key = "b", weight = 0.0 }, new { key = "c", weight = 0.0 } },
            primary_metric = "acceptance_rate",
        });
        Assert.Equal(HttpStatusCode.OK, changed.StatusCode);
        foreach (var a in (await PostOkAsync(api, "/api/v1/experiments/checkout-test/assign", new { unit_ids = ids })).GetProperty("assignments").EnumerateArray())
        {
            var unit = a.GetProperty("unit_id").GetString()!;
            // A unit that was in a coverage gap had no assignment: it joins now, under the new weights.
            Assert.Equal(before[unit] ?? "a", a.GetProperty("variant").GetString());
        }

        Assert.Equal("a", (await PostOkAsync(api, "/api/v1/experiments/checkout-test/assign", new { unit_id = "newcomer" })).GetProperty("variant").GetString());

        await using var scope = app.Services.CreateAsyncScope();
        await using var db = await scope.ServiceProvider.GetRequiredService<IEvalDbContextFactory>().CreateAsync();
        var user1 = await db.ExperimentAssignments.IgnoreQueryFilters().SingleAsync(a => a.TeamId == team.Id && a.UnitId == "user-1");
        Assert.Equal(("b", 1L), (user1.Variant, user1.Exposures));
        var user4 = await db.ExperimentAssignments.IgnoreQueryFilters().SingleAsync(a => a.TeamId == team.Id && a.UnitId == "user-4");
        Assert.Equal(2, user4.Exposures);
        Assert.False(await db.ExperimentAssignments.IgnoreQueryFilters().AnyAsync(a => a.TeamId == team.Id && a.UnitId == "user-2"));

        // Pausing answers not in the experiment, without forgetting anyone.
        await PostOkAsync(api, "/api/v1/experiments/checkout-test/pause");
        Assert.False((await PostOkAsync(api, "/api/v1/experiments/checkout-test/assign", new { unit_id = "user-1" })).GetProperty("in_experiment").GetBoolean());
    }

    [Fact]
    public async Task Assign_WithAttributes_AppliesTheTargetingFilters_AndStoresNoUnitOutsideThem()
    {
        var (api, team) = await ApiClient.ForNewTeamAsync(app, All);
        await CreateAsync(api, new
        {
            key = "targeted", name = "Production only", unit = "user_id", coverage = 1.0,
            variants = new[] { new { key = "a", weight = 0.5 }, new { key = "b", weight = 0.5 } },
            primary_metric = "acceptance_rate", filters = new { environment = "production" },
        });
        await PostOkAsync(api, "/api/v1/experiments/targeted/start");

        var staging = await PostOkAsync(api, "/api/v1/experiments/targeted/assign", new { unit_id = "u-staging", attributes = new { environment = "staging" } });
        Assert.False(staging.GetProperty("in_experiment").GetBoolean());
        var missing = await PostOkAsync(api, "/api/v1/experiments/targeted/assign", new { unit_ids = new[] { "u-none" }, attributes = new { model = "gpt-4o" } });
        Assert.False(missing.GetProperty("assignments")[0].GetProperty("in_experiment").GetBoolean());
        var production = await PostOkAsync(api, "/api/v1/experiments/targeted/assign", new { unit_id = "u-prod", attributes = new { environment = "production", model = "gpt-4o" } });
        Assert.True(production.GetProperty("in_experiment").GetBoolean());
        // Without attributes the filters are not checked (the SDKs' rule too).
        Assert.True((await PostOkAsync(api, "/api/v1/experiments/targeted/assign", new { unit_id = "u-plain" })).GetProperty("in_experiment").GetBoolean());

        await using var scope = app.Services.CreateAsyncScope();
        await using var db = await scope.ServiceProvider.GetRequiredService<IEvalDbContextFactory>().CreateAsync();
        var stored = await db.ExperimentAssignments.IgnoreQueryFilters().Where(a => a.TeamId == team.Id).Select(a => a.UnitId).OrderBy(u => u).ToListAsync();
        Assert.Equal(["u-plain", "u-prod"], stored);
    }

    [Fact]
    public async Task Assign_AFullBatchOfLongIds_FitsTheBodyLimit()
    {
        var (api, _) = await ApiClient.ForNewTeamAsync(app, All);
        await CreateAsync(api, Definition());
        await PostOkAsync(api, "/api/v1/experiments/checkout-test/start");

        // 1000 ids of 200 characters: about 205 KB, over the alert API's 64 KB, within the experiments API's 256 KB.
        var ids = Enumerable.Range(0, 1000).Select(i => $"{i:D6}".PadRight(200, 'x')).ToArray();
        var batch = await PostOkAsync(api, "/api/v1/experiments/checkout-test/assign", new { unit_ids = ids });
        Assert.Equal(1000, batch.GetProperty("assignments").GetArrayLength());
    }

    [Fact]
    public async Task Assign_BadInput_Is400NamingTheField()
    {
        var (api, _) = await ApiClient.ForNewTeamAsync(app, All);
        await CreateAsync(api, Definition());
        await PostOkAsync(api, "/api/v1/experiments/checkout-test/start");
        await AssertProblemAsync(await api.PostJsonAsync("/api/v1/experiments/checkout-test/assign", new { }), HttpStatusCode.BadRequest, "unit_id");
        await AssertProblemAsync(await api.PostJsonAsync("/api/v1/experiments/checkout-test/assign", new { unit_id = "" }), HttpStatusCode.BadRequest, "unit_id");
        await AssertProblemAsync(await api.PostJsonAsync("/api/v1/experiments/checkout-test/assign", new { unit_id = new string('x', 257) }), HttpStatusCode.BadRequest, "unit_id");
        await AssertProblemAsync(await api.PostJsonAsync("/api/v1/experiments/checkout-test/assign", new { unit_id = 5 }), HttpStatusCode.BadRequest, "unit_id");
        await AssertProblemAsync(await api.PostJsonAsync("/api/v1/experiments/checkout-test/assign", new { unit_ids = Array.Empty<string>() }), HttpStatusCode.BadRequest, "unit_ids");
        await AssertProblemAsync(await api.PostJsonAsync("/api/v1/experiments/checkout-test/assign", new { unit_ids = Enumerable.Range(0, 1001).Select(i => $"u{i}") }), HttpStatusCode.BadRequest, "unit_ids");
        await AssertProblemAsync(await api.PostJsonAsync("/api/v1/experiments/checkout-test/assign", new { unit_ids = new[] { "a", " " } }), HttpStatusCode.BadRequest, "unit_ids[1]");
        await AssertProblemAsync(await api.PostJsonAsync("/api/v1/experiments/checkout-test/assign", new { unit_id = "a", unit_ids = new[] { "b" } }), HttpStatusCode.BadRequest, "unit_ids");
        await AssertProblemAsync(await api.PostJsonAsync("/api/v1/experiments/checkout-test/assign", new { unit = "a" }), HttpStatusCode.BadRequest, "unit");
    }

    [Fact]
    public async Task Definitions_ListRunningExperiments_WithAnETagAndMaxAge()
    {
        var (api, team) = await ApiClient.ForNewTeamAsync(app, All);
        await CreateAsync(api, Definition(key: "draft-one"));
        await CreateAsync(api, Definition(key: "running-one", weights: [0.25, 0.75], coverage: 0.9));
        await PostOkAsync(api, "/api/v1/experiments/running-one/start");
        using var ingest = await ApiClient.ForTeamAsync(app, team.Id, ApiKeyScopes.Ingest);

        var response = await ingest.Http.GetAsync("/api/v1/experiments/definitions");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(30), response.Headers.CacheControl?.MaxAge);
        var etag = response.Headers.ETag;
        Assert.NotNull(etag);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        var definition = Assert.Single(body.GetProperty("experiments").EnumerateArray());
        Assert.Equal(("running-one", "running-one", 2, "user_id", 0.9, "running"), (definition.GetProperty("key").GetString(), definition.GetProperty("seed").GetString(),
            definition.GetProperty("hash_version").GetInt32(), definition.GetProperty("unit").GetString(), definition.GetProperty("coverage").GetDouble(),
            definition.GetProperty("status").GetString()));
        Assert.Equal(["control:0.25:gpt-4o", "treatment:0.75:gpt-4o-mini"], definition.GetProperty("variants").EnumerateArray()
            .Select(v => $"{v.GetProperty("key").GetString()}:{v.GetProperty("weight").GetDouble()}:{v.GetProperty("config").GetProperty("model").GetString()}"));
        Assert.Equal("production", definition.GetProperty("filters").GetProperty("environment").GetString());

        using var again = new HttpRequestMessage(HttpMethod.Get, "/api/v1/experiments/definitions");
        again.Headers.IfNoneMatch.Add(etag);
        Assert.Equal(HttpStatusCode.NotModified, (await ingest.Http.SendAsync(again)).StatusCode);

        await PostOkAsync(api, "/api/v1/experiments/draft-one/start");
        using var changed = new HttpRequestMessage(HttpMethod.Get, "/api/v1/experiments/definitions");
        changed.Headers.IfNoneMatch.Add(etag);
        var fresh = await ingest.Http.SendAsync(changed);
        Assert.Equal(HttpStatusCode.OK, fresh.StatusCode);
        Assert.NotEqual(etag, fresh.Headers.ETag);
        Assert.Equal(2, (await fresh.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("experiments").GetArrayLength());
    }

    /// <summary>Traces written straight to the database, so every field the metrics read is exactly as the test says.</summary>
    private async Task SeedAsync(Guid teamId, params (string Variant, string? User, double? Latency, decimal? Cost, bool Error, ReviewStatus Status, double? Human, double? Helpfulness, string Env)[] traces)
    {
        await using var scope = app.Services.CreateAsyncScope();
        scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(teamId, "seed", TeamRole.Owner);
        await using var db = await scope.ServiceProvider.GetRequiredService<IEvalDbContextFactory>().CreateAsync();
        var now = app.Clock.GetUtcNow();
        foreach (var t in traces)
        {
            var id = Guid.NewGuid();
            db.Traces.Add(new Trace
            {
                Id = id, TeamId = teamId, SortKey = Trace.MakeSortKey(now, id), Experiment = "checkout-test", Variant = t.Variant, UserId = t.User,
                SessionId = t.User is null ? null : $"s-{t.User}", LatencyMs = t.Latency, Cost = t.Cost, Error = t.Error ? "timeout" : null, ReviewStatus = t.Status,
                HumanScore = t.Human, Environment = t.Env, StartedAt = now - TimeSpan.FromSeconds(30), CreatedAt = now, UpdatedAt = now,
            });
            if (t.Helpfulness is { } h)
            {
                db.Scores.Add(new Score { Id = Guid.NewGuid(), TeamId = teamId, TraceId = id, Name = "helpfulness", NumericValue = h, CreatedAt = now });
            }
        }

        await db.SaveChangesAsync();
    }

    [Fact]
    public async Task Results_FromSeededTraces_EqualHandComputedSufficientStatistics()
    {
        var (api, team) = await ApiClient.ForNewTeamAsync(app, All);
        await CreateAsync(api, Definition(guardrails: ["error_rate", "latency", "cost_per_trace", "human_score", "score:helpfulness"]));
        // A trace before the start does not count.
        await SeedAsync(team.Id, ("control", "early", 999, 9m, true, ReviewStatus.Rejected, 0, 0, "production"));
        await PostOkAsync(api, "/api/v1/experiments/checkout-test/start");
        app.Clock.Advance(TimeSpan.FromMinutes(1));
        await SeedAsync(team.Id,
            ("control", "a", 100, 0.01m, false, ReviewStatus.Accepted, 1, 0.5, "production"),
            ("control", "a", 200, 0.03m, true, ReviewStatus.Rejected, 0, null, "production"),
            ("control", "b", 300, null, false, ReviewStatus.Pending, null, 1, "production"),
            ("control", null, null, 0.02m, false, ReviewStatus.Accepted, 1, null, "production"),
            ("treatment", "c", 400, 0.05m, false, ReviewStatus.Accepted, 1, 0.25, "production"),
            ("treatment", "d", 600, 0.07m, false, ReviewStatus.Accepted, 0, 0.75, "production"),
            ("treatment", "d", null, null, true, ReviewStatus.NeedsReview, null, null, "production"),
            // Outside the targeting filter, or of a variant the experiment does not have: not counted.
            ("treatment", "e", 5000, 5m, true, ReviewStatus.Rejected, 0, 0, "staging"),
            ("mystery", "f", 5000, 5m, true, ReviewStatus.Rejected, 0, 0, "production"));

        await using var scope = app.Services.CreateAsyncScope();
        scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(team.Id, team.OwnerId, TeamRole.Owner);
        var results = scope.ServiceProvider.GetRequiredService<ExperimentResults>();
        var report = await results.ReadAsync("checkout-test");
        string Row(VariantSample s) => $"{s.Key} w{s.Weight} u{s.Units} t{s.Traces} n{s.Count} s{Math.Round(s.Sum, 10)} q{Math.Round(s.SumOfSquares, 10)}";

        // Units: distinct user ids (a trace without one is not a unit). Acceptance: accepted over accepted + rejected.
        Assert.Equal(["control w0.5 u2 t4 n3 s2 q2", "treatment w0.5 u2 t3 n2 s2 q2"], report.Primary.Samples.Select(Row));
        var byMetric = report.Guardrails.ToDictionary(g => g.Metric.Wire, g => g.Samples.Select(Row).ToList());
        Assert.Equal(["control w0.5 u2 t4 n4 s1 q1", "treatment w0.5 u2 t3 n3 s1 q1"], byMetric["error_rate"]);
        Assert.Equal(["control w0.5 u2 t4 n3 s600 q140000", "treatment w0.5 u2 t3 n2 s1000 q520000"], byMetric["latency"]);
        Assert.Equal(["control w0.5 u2 t4 n3 s0.06 q0.0014", "treatment w0.5 u2 t3 n2 s0.12 q0.0074"], byMetric["cost_per_trace"]);
        Assert.Equal(["control w0.5 u2 t4 n3 s2 q2", "treatment w0.5 u2 t3 n2 s1 q1"], byMetric["human_score"]);
        Assert.Equal(["control w0.5 u2 t4 n2 s1.5 q1.25", "treatment w0.5 u2 t3 n2 s1 q0.625"], byMetric["score:helpfulness"]);

        // The same through the API, in the issue's shape, with the statistics' own figures.
        var json = await api.GetJsonAsync("/api/v1/experiments/checkout-test/results");
        Assert.Equal(("checkout-test", "acceptance_rate"), (json.GetProperty("experiment").GetString(), json.GetProperty("metric").GetString()));
        Assert.False(string.IsNullOrEmpty(json.GetProperty("method").GetString()));
        Assert.Equal(report.Primary.Analysis.Srm.PValue, json.GetProperty("srm").GetProperty("p_value").GetDouble(), 12);
        var variants = json.GetProperty("variants").EnumerateArray().ToList();
        Assert.Equal(["control", "treatment"], variants.Select(v => v.GetProperty("key").GetString()));
        Assert.Equal(2.0 / 3, variants[0].GetProperty("value").GetDouble(), 12);
        Assert.Equal(1.0, variants[1].GetProperty("value").GetDouble(), 12);
        Assert.Equal((2L, 3L), (variants[1].GetProperty("units").GetInt64(), variants[1].GetProperty("traces").GetInt64()));
        foreach (var name in new[] { "ci_low", "ci_high", "lift", "lift_ci_low", "lift_ci_high", "p_value", "significant" })
        {
            Assert.True(variants[1].TryGetProperty(name, out _), name);
        }

        Assert.Equal(5, json.GetProperty("guardrails").GetArrayLength());

        var lift = await api.GetJsonAsync("/api/v1/experiments/checkout-test/results/lift");
        var last = lift.GetProperty("points").EnumerateArray().Last();
        Assert.Equal(2, last.GetProperty("variants").GetArrayLength());
    }

    [Fact]
    public async Task AnalysisJob_NotifiesASignificantResultAndAMismatch_OncePerTransition()
    {
        var (api, team) = await ApiClient.ForNewTeamAsync(app, All);
        await CreateAsync(api, Definition());
        await PostOkAsync(api, "/api/v1/experiments/checkout-test/start");
        app.Clock.Advance(TimeSpan.FromMinutes(1));
        // Control accepts 20 %, treatment 90 %, over 400 users each: significant under any method. Units split 400/400 (no SRM).
        var rows = new List<(string, string?, double?, decimal?, bool, ReviewStatus, double?, double?, string)>();
        for (var i = 0; i < 400; i++)
        {
            rows.Add(("control", $"c{i}", 100, 0.01m, false, i % 5 == 0 ? ReviewStatus.Accepted : ReviewStatus.Rejected, null, null, "production"));
            rows.Add(("treatment", $"t{i}", 100, 0.01m, false, i % 10 == 0 ? ReviewStatus.Rejected : ReviewStatus.Accepted, null, null, "production"));
        }

        await SeedAsync(team.Id, [.. rows]);
        var runner = app.Services.GetRequiredService<ExperimentAnalysisRunner>();
        var run = await runner.AnalyzeAllAsync();
        Assert.Equal(0, run.Failed);
        await using var scope = app.Services.CreateAsyncScope();
        await using var db = await scope.ServiceProvider.GetRequiredService<IEvalDbContextFactory>().CreateAsync();
        var notes = await db.InAppNotifications.IgnoreQueryFilters().Where(n => n.TeamId == team.Id && n.EventType == NotificationEventTypes.ExperimentResult).ToListAsync();
        var significant = Assert.Single(notes);
        Assert.Equal("Experiment Checkout prompt: significant result", significant.Title);
        Assert.Equal("/experiments/checkout-test", significant.Link);

        await runner.AnalyzeAllAsync();
        Assert.Single(await db.InAppNotifications.IgnoreQueryFilters().Where(n => n.TeamId == team.Id && n.EventType == NotificationEventTypes.ExperimentResult).ToListAsync());

        // 400 more control users and none in treatment: the split no longer matches 50/50.
        await SeedAsync(team.Id, [.. Enumerable.Range(0, 400).Select(i => ("control", (string?)$"x{i}", (double?)100, (decimal?)0.01m, false, ReviewStatus.Pending, (double?)null, (double?)null, "production"))]);
        await runner.AnalyzeAllAsync();
        await runner.AnalyzeAllAsync();
        var all = await db.InAppNotifications.IgnoreQueryFilters().Where(n => n.TeamId == team.Id && n.EventType == NotificationEventTypes.ExperimentResult)
            .OrderBy(n => n.CreatedAt).ThenBy(n => n.Title).ToListAsync();
        Assert.Equal(2, all.Count);
        var mismatch = Assert.Single(all, n => n.Title.EndsWith("sample ratio mismatch", StringComparison.Ordinal));
        Assert.Equal(NotificationSeverity.Warning, mismatch.Severity);
    }

    [Fact]
    public async Task Isolation_ExperimentsAssignmentsAndResults_StayInTheirTeam()
    {
        var (a, teamA) = await ApiClient.ForNewTeamAsync(app, All);
        var (b, teamB) = await ApiClient.ForNewTeamAsync(app, All);
        await CreateAsync(a, Definition());
        await PostOkAsync(a, "/api/v1/experiments/checkout-test/start");

        await AssertProblemAsync(await b.Http.GetAsync("/api/v1/experiments/checkout-test"), HttpStatusCode.NotFound);
        await AssertProblemAsync(await b.Http.GetAsync("/api/v1/experiments/checkout-test/results"), HttpStatusCode.NotFound);
        await AssertProblemAsync(await b.PostJsonAsync("/api/v1/experiments/checkout-test/assign", new { unit_id = "u" }), HttpStatusCode.NotFound);
        await AssertProblemAsync(await b.PostJsonAsync("/api/v1/experiments/checkout-test/stop", new { decision = "rollback" }), HttpStatusCode.NotFound);
        Assert.Empty((await b.GetJsonAsync("/api/v1/experiments")).EnumerateArray());
        Assert.Empty((await b.GetJsonAsync("/api/v1/experiments/definitions")).GetProperty("experiments").EnumerateArray());

        // Team B may use the same key; its assignments and results are its own.
        await CreateAsync(b, Definition(weights: [0.0, 1.0]));
        await PostOkAsync(b, "/api/v1/experiments/checkout-test/start");
        app.Clock.Advance(TimeSpan.FromMinutes(1));
        var inA = (await PostOkAsync(a, "/api/v1/experiments/checkout-test/assign", new { unit_id = "shared-user" })).GetProperty("variant").GetString();
        Assert.Equal("treatment", (await PostOkAsync(b, "/api/v1/experiments/checkout-test/assign", new { unit_id = "shared-user" })).GetProperty("variant").GetString());
        Assert.Equal(inA, (await PostOkAsync(a, "/api/v1/experiments/checkout-test/assign", new { unit_id = "shared-user" })).GetProperty("variant").GetString());
        await SeedAsync(teamA.Id, ("control", "u1", 100, null, false, ReviewStatus.Accepted, null, null, "production"));
        await SeedAsync(teamB.Id, ("treatment", "u2", 100, null, false, ReviewStatus.Rejected, null, null, "production"), ("treatment", "u3", 100, null, false, ReviewStatus.Rejected, null, null, "production"));
        var resultsA = (await a.GetJsonAsync("/api/v1/experiments/checkout-test/results")).GetProperty("variants").EnumerateArray().Select(v => v.GetProperty("traces").GetInt64());
        var resultsB = (await b.GetJsonAsync("/api/v1/experiments/checkout-test/results")).GetProperty("variants").EnumerateArray().Select(v => v.GetProperty("traces").GetInt64());
        Assert.Equal([1L, 0L], resultsA);
        Assert.Equal([0L, 2L], resultsB);
    }
}

public sealed class ExperimentPostgresTests(ClockedPostgresAppFactory app) : ExperimentTests(app), IClassFixture<ClockedPostgresAppFactory>
{
    private readonly ClockedPostgresAppFactory _app = app;

    /// <summary>Many first assignments of the same units at once: each unit is stored once and every answer agrees.</summary>
    [Fact]
    public async Task Assign_ConcurrentFirstCalls_AgreeAndStoreOneRowPerUnit()
    {
        var (api, team) = await ApiClient.ForNewTeamAsync(_app, ApiKeyScopes.Ingest | ApiKeyScopes.Read | ApiKeyScopes.Admin);
        var created = await api.PostJsonAsync("/api/v1/experiments", Definition(weights: [0.3, 0.3, 0.4]));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await api.Http.PostAsync("/api/v1/experiments/checkout-test/start", null)).StatusCode);
        var ids = Enumerable.Range(0, 50).Select(i => $"race-{i}").ToArray();

        var answers = await Task.WhenAll(Enumerable.Range(0, 16).Select(async _ =>
        {
            var response = await api.PostJsonAsync("/api/v1/experiments/checkout-test/assign", new { unit_ids = ids });
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, body);
            return JsonDocument.Parse(body).RootElement.GetProperty("assignments").EnumerateArray()
                .Select(a => $"{a.GetProperty("unit_id").GetString()}={a.GetProperty("variant").GetString()}").ToList();
        }));

        Assert.All(answers, a => Assert.Equal(answers[0], a));
        await using var scope = _app.Services.CreateAsyncScope();
        await using var db = await scope.ServiceProvider.GetRequiredService<IEvalDbContextFactory>().CreateAsync();
        var rows = await db.ExperimentAssignments.IgnoreQueryFilters().Where(a => a.TeamId == team.Id).ToListAsync();
        Assert.Equal(50, rows.Count);
        Assert.All(rows, r => Assert.Equal(16, r.Exposures));
    }
}

public sealed class ExperimentSqliteTests(ClockedSqliteAppFactory app) : ExperimentTests(app), IClassFixture<ClockedSqliteAppFactory>;
