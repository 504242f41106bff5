using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using EvalPlatform.Core.Batches;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Playground;
using EvalPlatform.Core.Providers;
using EvalPlatform.Core.Queues;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Core.Traces;
using EvalPlatform.Tests.Infrastructure;
using EvalPlatform.Tests.Integration.Providers;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace EvalPlatform.Tests.Integration.Playground;

/// <summary>
/// Playground batches through the API against the fake OpenAI and Anthropic servers, run by the batch-run job's one call:
/// a prompt over a queue and over a filter, each trace's variables filled from the trace, one result per trace ×
/// configuration beside the original; a provider's 500 on one trace is that item's error, not the batch's; cancel; another
/// team sees and uses nothing; bad input is a problem naming the field; a starter who lost the role stops the batch.
/// Both databases.
/// </summary>
public abstract class PlaygroundBatchTests(ProviderAppFactory app)
{
    private sealed record Setup(TestTeam Team, ApiClient Api, ProviderConnection OpenAi, ProviderConnection Anthropic, string Tag);

    private async Task<Setup> SetUpAsync()
    {
        app.OpenAi.Reset();
        app.Anthropic.Reset();
        app.OpenAi.DefaultReply = new FakeReply();
        app.Anthropic.DefaultReply = new FakeReply();
        var (api, team) = await ApiClient.ForNewTeamAsync(app, ApiKeyScopes.Admin | ApiKeyScopes.Ingest | ApiKeyScopes.Read);
        var openAi = await app.AddConnectionAsync(team, ProviderKind.OpenAi, "OpenAI main", app.OpenAi.BaseUrl, FakeOpenAiServer.Key, app.Clock.GetUtcNow());
        var anthropic = await app.AddConnectionAsync(team, ProviderKind.Anthropic, "Claude", app.Anthropic.BaseUrl, FakeAnthropicServer.Key, app.Clock.GetUtcNow());
        return new Setup(team, api, openAi, anthropic, "batch-" + Guid.NewGuid().ToString("N")[..8]);
    }

    private async Task<List<Guid>> TracesAsync(Setup s, int count)
    {
        var ids = new List<Guid>();
        for (var i = 0; i < count; i++)
        {
            // A second apart, so "newest first" has one answer.
            app.Clock.Advance(TimeSpan.FromSeconds(1));
            ids.Add(await s.Api.PostTraceAsync(new { user_input = $"question {i}", response = $"original answer {i}", model = "gpt-4o", tags = new[] { s.Tag }, metadata = new { lang = $"lang{i}" } }));
        }

        return ids;
    }

    private async Task<Guid> QueueAsync(Setup s)
    {
        await using var scope = app.ScopeFor(s.Team);
        return (await scope.ServiceProvider.GetRequiredService<QueueService>().CreateAsync(new QueueDefinition("queue " + s.Tag, new TraceFilter(Tag: s.Tag)))).Id;
    }

    private static object Body(Setup s, object source, params ProviderConnection[] connections) => new
    {
        system = "Answer in {{lang}}.",
        messages = new[] { new { role = "user", content = "{{input}} ({{tone}})" } },
        variables = new Dictionary<string, string> { ["tone"] = "brief", ["lang"] = "default-lang" },
        configs = connections.Select(c => new { connection_id = c.Id, model = c.Kind == ProviderKind.Anthropic ? "claude-sonnet-4-20250514" : "gpt-4o-mini", temperature = 0.2 }).ToArray(),
        source,
    };

    private static async Task<Guid> StartAsync(ApiClient api, object body)
    {
        var response = await api.PostJsonAsync("/api/v1/playground/batches", body);
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("batch_run_id").GetGuid();
    }

    private async Task<BatchRun> ExecuteAsync(Setup s, Guid runId)
    {
        // The jobs are off on this clock; the batch-run job's one call runs it here.
        await app.Services.GetRequiredService<BatchRunExecutor>().RunAsync(s.Team.Id, runId, default);
        await using var scope = app.ScopeFor(s.Team);
        return await scope.ServiceProvider.GetRequiredService<BatchRuns>().GetAsync(runId);
    }

    private async Task<List<PlaygroundBatchResult>> ResultsAsync(TestTeam team, Guid runId)
    {
        await using var scope = app.ScopeFor(team);
        await using var db = await scope.ServiceProvider.GetRequiredService<IEvalDbContextFactory>().CreateAsync();
        return await db.PlaygroundBatchResults.AsNoTracking().Where(r => r.BatchRunId == runId).OrderBy(r => r.Position).ThenBy(r => r.Configuration).ToListAsync();
    }

    [Fact]
    public async Task Batch_OverAQueue_TwoConfigurations_StoresOneResultPerTraceAndConfiguration_FilledFromEachTrace()
    {
        var s = await SetUpAsync();
        var traces = await TracesAsync(s, 3);
        var queue = await QueueAsync(s);
        app.OpenAi.DefaultReply = new FakeReply(Text: "openai says hi", InputTokens: 1_000_000, OutputTokens: 1_000_000);
        app.Anthropic.DefaultReply = new FakeReply(Text: "claude says hi");

        var runId = await StartAsync(s.Api, Body(s, new { queue_id = queue }, s.OpenAi, s.Anthropic));
        var run = await ExecuteAsync(s, runId);

        Assert.Equal(BatchRunStatus.Completed, run.Status);
        Assert.Equal((6, 6, 0), (run.Total, run.Done, run.Failed));
        var results = await ResultsAsync(s.Team, runId);
        Assert.Equal(6, results.Count);
        Assert.Equal(traces.SelectMany(t => new[] { (t, 0), (t, 1) }), results.Select(r => (r.TraceId, r.Configuration)));
        Assert.All(results.Where(r => r.Configuration == 0), r => Assert.Equal(("openai says hi", 0.75m), (r.Text, r.Cost!.Value)));
        Assert.All(results.Where(r => r.Configuration == 1), r => Assert.Equal("claude says hi", r.Text));
        Assert.All(results, r => Assert.Null(r.Error));

        // Each trace filled the prompt: its own input and metadata (lang), the prompt's default for what it lacks (tone).
        var sent = app.OpenAi.Requests.Select(r => r.Json.GetProperty("messages")).ToList();
        for (var i = 0; i < 3; i++)
        {
            Assert.Contains(sent, m => m[0].GetProperty("content").GetString() == $"Answer in lang{i}." && m[1].GetProperty("content").GetString() == $"question {i} (brief)");
        }

        Assert.Equal(3, app.Anthropic.Requests.Count);
        await using (var scope = app.ScopeFor(s.Team))
        {
            await using var db = await scope.ServiceProvider.GetRequiredService<IEvalDbContextFactory>().CreateAsync();
            Assert.Equal(6, await db.ProviderCalls.CountAsync(c => c.Source == ProviderCallSource.Playground));
        }

        // The comparison, paged by original trace.
        var first = await s.Api.GetJsonAsync($"/api/v1/playground/batches/{runId}/results?limit=2");
        Assert.Equal("completed", first.GetProperty("batch_run").GetProperty("status").GetString());
        Assert.Equal(2, first.GetProperty("configs").GetArrayLength());
        var items = first.GetProperty("items");
        Assert.Equal(2, items.GetArrayLength());
        Assert.Equal(traces[0], items[0].GetProperty("trace_id").GetGuid());
        Assert.Equal("original answer 0", items[0].GetProperty("original").GetProperty("output").GetString());
        Assert.Equal(["openai says hi", "claude says hi"], items[0].GetProperty("results").EnumerateArray().Select(r => r.GetProperty("text").GetString()));
        var cursor = first.GetProperty("next_cursor").GetString();
        var second = await s.Api.GetJsonAsync($"/api/v1/playground/batches/{runId}/results?limit=2&cursor={cursor}");
        Assert.Equal(traces[2], Assert.Single(second.GetProperty("items").EnumerateArray()).GetProperty("trace_id").GetGuid());
        Assert.Equal(JsonValueKind.Null, second.GetProperty("next_cursor").ValueKind);

        // A chunk repeated (a crash between its work and the cursor's save) replaces its rows, never doubles them.
        await using (var scope = app.ScopeFor(s.Team))
        {
            var handler = scope.ServiceProvider.GetServices<IBatchRunHandler>().Single(h => h.Kind == PlaygroundBatchHandler.BatchKind);
            await handler.ProcessChunkAsync(new BatchChunk(runId, s.Team.Id, null, run.Payload, null, run.CreatedBy), default);
        }

        Assert.Equal(6, (await ResultsAsync(s.Team, runId)).Count);
    }

    [Fact]
    public async Task Batch_OverAFilter_AProvider500OnOneTrace_IsThatItemsError_TheRestRun()
    {
        var s = await SetUpAsync();
        var traces = await TracesAsync(s, 3);
        app.OpenAi.NextText("first");
        app.OpenAi.NextError(500, message: "Upstream exploded.");
        app.OpenAi.NextText("third");

        var runId = await StartAsync(s.Api, Body(s, new { filter = new { tag = s.Tag } }, s.OpenAi));
        var run = await ExecuteAsync(s, runId);

        Assert.Equal(BatchRunStatus.Completed, run.Status);
        Assert.Equal((3, 2, 1), (run.Total, run.Done, run.Failed));
        Assert.Contains("Upstream exploded.", run.LastError, StringComparison.Ordinal);
        var results = await ResultsAsync(s.Team, runId);
        Assert.Equal(3, results.Count);
        // A filter runs newest first.
        Assert.Equal(traces.AsEnumerable().Reverse(), results.Select(r => r.TraceId));
        Assert.Equal(["first", "", "third"], results.Select(r => r.Text));
        Assert.Equal(500, results[1].ErrorStatus);
        Assert.Contains("Upstream exploded.", results[1].Error, StringComparison.Ordinal);
        Assert.Null(results[2].Error);
    }

    [Fact]
    public async Task Batch_ATraceWithoutAVariablesValue_IsThatItemsError_NoCallMade()
    {
        var s = await SetUpAsync();
        await TracesAsync(s, 1);
        var body = new
        {
            messages = new[] { new { role = "user", content = "{{input}} {{nowhere}}" } },
            configs = new[] { new { connection_id = s.OpenAi.Id, model = "gpt-4o-mini" } },
            source = new { filter = new { tag = s.Tag } },
        };

        var run = await ExecuteAsync(s, await StartAsync(s.Api, body));

        Assert.Equal((BatchRunStatus.Completed, 0, 1), (run.Status, run.Done, run.Failed));
        var result = Assert.Single(await ResultsAsync(s.Team, run.Id));
        Assert.StartsWith("variables.nowhere:", result.Error, StringComparison.Ordinal);
        Assert.Empty(app.OpenAi.Requests);
    }

    [Fact]
    public async Task Cancel_StopsTheBatchAfterTheChunkUnderWay()
    {
        var s = await SetUpAsync();
        await TracesAsync(s, PlaygroundBatchHandler.ChunkSize + 2);
        // The first call is slow, so the cancel lands while the first chunk is under way.
        app.OpenAi.Next(new FakeReply(Text: "slow", Delay: TimeSpan.FromSeconds(1)));
        var runId = await StartAsync(s.Api, Body(s, new { filter = new { tag = s.Tag } }, s.OpenAi));

        var execution = Task.Run(() => app.Services.GetRequiredService<BatchRunExecutor>().RunAsync(s.Team.Id, runId, default));
        await Wait.UntilAsync(() => app.OpenAi.Requests.Count > 0, "the first call to arrive");

        var cancel = await s.Api.PostJsonAsync($"/api/v1/batch-runs/{runId}/cancel", new { });
        Assert.Equal("cancelling", (await cancel.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetString());

        Assert.Equal(BatchRunOutcome.Cancelled, await execution.WaitAsync(TimeSpan.FromSeconds(60)));
        await using var scope = app.ScopeFor(s.Team);
        var run = await scope.ServiceProvider.GetRequiredService<BatchRuns>().GetAsync(runId);
        Assert.Equal(BatchRunStatus.Cancelled, run.Status);
        Assert.Equal(PlaygroundBatchHandler.ChunkSize, run.Done);
        Assert.Equal(PlaygroundBatchHandler.ChunkSize, (await ResultsAsync(s.Team, runId)).Count);
        Assert.Equal(PlaygroundBatchHandler.ChunkSize, app.OpenAi.Requests.Count);
    }

    [Fact]
    public async Task AnotherTeam_CannotReadTheResults_NorRunOverTheQueueOrWithTheConnection_AndAReadKeyCannotStart()
    {
        var s = await SetUpAsync();
        await TracesAsync(s, 1);
        var queue = await QueueAsync(s);
        var runId = await StartAsync(s.Api, Body(s, new { queue_id = queue }, s.OpenAi));
        await ExecuteAsync(s, runId);

        var (other, _) = await ApiClient.ForNewTeamAsync(app, ApiKeyScopes.Admin | ApiKeyScopes.Read | ApiKeyScopes.Ingest);
        using (other)
        {
            Assert.Equal(HttpStatusCode.NotFound, (await other.Http.GetAsync($"/api/v1/playground/batches/{runId}/results")).StatusCode);
            Assert.Equal(HttpStatusCode.NotFound, (await other.Http.GetAsync($"/api/v1/batch-runs/{runId}")).StatusCode);
            await AssertProblemAsync(await other.PostJsonAsync("/api/v1/playground/batches", Body(s, new { queue_id = queue }, s.OpenAi)), "configs[0].connection_id");
            var mine = await other.PostTraceAsync(new { user_input = "q", response = "a" });
            Assert.NotEqual(Guid.Empty, mine);
            var body = new
            {
                messages = new[] { new { role = "user", content = "hi" } },
                configs = Array.Empty<object>(),
                source = new { queue_id = queue },
            };
            await AssertProblemAsync(await other.PostJsonAsync("/api/v1/playground/batches", body), "configs");
        }

        using var reader = await ApiClient.ForTeamAsync(app, s.Team.Id, ApiKeyScopes.Read);
        Assert.Equal(HttpStatusCode.Forbidden, (await reader.PostJsonAsync("/api/v1/playground/batches", Body(s, new { queue_id = queue }, s.OpenAi))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await reader.Http.GetAsync($"/api/v1/playground/batches/{runId}/results")).StatusCode);
    }

    [Fact]
    public async Task Start_WithBadInput_IsAProblemNamingTheField()
    {
        var s = await SetUpAsync();
        await TracesAsync(s, 1);
        var queue = await QueueAsync(s);
        object Config(string model = "gpt-4o-mini") => new { connection_id = s.OpenAi.Id, model };
        var hi = new[] { new { role = "user", content = "hi" } };
        foreach (var (body, field) in new (object, string)[]
                 {
                     (new { messages = hi, source = new { queue_id = queue } }, "configs"),
                     (new { messages = hi, configs = new[] { Config() } }, "source"),
                     (new { messages = hi, configs = new[] { Config() }, source = new { } }, "source"),
                     (new { messages = hi, configs = new[] { Config() }, source = new { queue_id = queue, filter = new { tag = "x" } } }, "source"),
                     (new { messages = hi, configs = new[] { Config() }, source = new { queue_id = Guid.NewGuid() } }, "source.queue_id"),
                     (new { messages = hi, configs = new[] { Config() }, source = new { filter = new { tag = "no-such-tag-" + s.Tag } } }, "source.filter"),
                     (new { messages = Array.Empty<object>(), configs = new[] { Config() }, source = new { queue_id = queue } }, "messages"),
                     (new { messages = new[] { new { role = "robot", content = "hi" } }, configs = new[] { Config() }, source = new { queue_id = queue } }, "messages[0].role"),
                     (new { messages = hi, configs = new[] { Config("") }, source = new { queue_id = queue } }, "configs[0].model"),
                     (new { messages = hi, configs = Enumerable.Repeat(Config(), 5).ToArray(), source = new { queue_id = queue } }, "configs"),
                     (new { messages = hi, configs = new[] { new { connection_id = s.OpenAi.Id, model = "m", temperature = 3.0 } }, source = new { queue_id = queue } }, "configs[0].temperature"),
                     (new { messages = hi, configs = new[] { Config() }, source = new { queue_id = queue }, extra = 1 }, "extra"),
                 })
        {
            await AssertProblemAsync(await s.Api.PostJsonAsync("/api/v1/playground/batches", body), field);
        }

        var runId = await StartAsync(s.Api, Body(s, new { queue_id = queue }, s.OpenAi));
        await AssertProblemAsync(await s.Api.Http.GetAsync($"/api/v1/playground/batches/{runId}/results?limit=0"), "limit");
        await AssertProblemAsync(await s.Api.Http.GetAsync($"/api/v1/playground/batches/{runId}/results?cursor=abc"), "cursor");
    }

    [Fact]
    public async Task AStarterWhoLostThePlaygroundRole_StopsTheBatch_NoCallMade()
    {
        var s = await SetUpAsync();
        await TracesAsync(s, 2);
        var reviewer = await TestData.CreateUserInTeamAsync(app.Services, s.Team.Id, TeamRole.Reviewer);
        Guid runId;
        await using (var scope = app.Services.CreateAsyncScope())
        {
            scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(s.Team.Id, reviewer, TeamRole.Reviewer);
            runId = await scope.ServiceProvider.GetRequiredService<PlaygroundBatchService>().StartAsync(
                new PlaygroundPrompt(null, [new PlaygroundMessage("user", "{{input}}")]), [new PlaygroundConfig(s.OpenAi.Id, "gpt-4o-mini")],
                new PlaygroundBatchSource(Filter: new TraceFilter(Tag: s.Tag)));
        }

        await using (var scope = app.ScopeFor(s.Team))
        {
            await using var db = await scope.ServiceProvider.GetRequiredService<IEvalDbContextFactory>().CreateAsync();
            await db.TeamMembers.Where(m => m.UserId == reviewer).ExecuteUpdateAsync(u => u.SetProperty(m => m.Role, TeamRole.Viewer));
        }

        var run = await ExecuteAsync(s, runId);

        Assert.Equal(BatchRunStatus.Failed, run.Status);
        Assert.Contains("may no longer use the playground", run.LastError, StringComparison.Ordinal);
        Assert.Empty(app.OpenAi.Requests);
        Assert.Empty(await ResultsAsync(s.Team, runId));
    }

    private static async Task AssertProblemAsync(HttpResponseMessage response, string field)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"expected 400 naming {field}: {(int)response.StatusCode} {text}");
        var problem = JsonDocument.Parse(text).RootElement;
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), $"expected an error on {field}: {text}");
    }
}

public sealed class PostgresPlaygroundBatchTests(ProviderPostgresAppFactory app) : PlaygroundBatchTests(app), IClassFixture<ProviderPostgresAppFactory>;

public sealed class SqlitePlaygroundBatchTests(ProviderSqliteAppFactory app) : PlaygroundBatchTests(app), IClassFixture<ProviderSqliteAppFactory>;
