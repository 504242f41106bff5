using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using EvalPlatform.Core.Batches;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Evaluators;
using EvalPlatform.Core.Providers;
using EvalPlatform.Core.Scores;
using EvalPlatform.Core.Teams;
using EvalPlatform.Tests.Infrastructure;
using EvalPlatform.Tests.Integration.Providers;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace EvalPlatform.Tests.Integration.Evaluators;

/// <summary>
/// LLM judges through the API against the fake OpenAI server: a batch run over a selection stores named scores with the
/// judge's reasoning (replaced on a re-run), failures are failed items with reasons (unparsable answer, 429, 500), the daily
/// budget stops a run, the minute runner judges matching new traces once; another team sees and runs nothing. Both databases.
/// </summary>
public abstract class EvaluatorTests(ProviderAppFactory app)
{
    private const string Pass = """{"reasoning": "The answer is correct.", "verdict": "pass"}""";
    private const string Fail = """{"reasoning": "Wrong.", "verdict": "fail"}""";

    private sealed record Setup(TestTeam Team, ApiClient Api, ProviderConnection Connection);

    private async Task<Setup> SetUpAsync()
    {
        var (api, team) = await ApiClient.ForNewTeamAsync(app, ApiKeyScopes.Admin | ApiKeyScopes.Ingest | ApiKeyScopes.Read);
        var connection = await app.AddConnectionAsync(team, ProviderKind.OpenAi, "judge", app.OpenAi.BaseUrl, FakeOpenAiServer.Key, app.Clock.GetUtcNow());
        return new Setup(team, api, connection);
    }

    private static Dictionary<string, object?> Body(Setup s, string name, string output = "pass_fail", object? extra = null)
    {
        var body = new Dictionary<string, object?>
        {
            ["name"] = name, ["connection_id"] = s.Connection.Id, ["model"] = "gpt-4o-mini",
            ["prompt"] = "Question: {{input}}\nAnswer: {{output}}\nIs the answer correct?", ["output"] = output,
        };
        if (extra is not null)
        {
            foreach (var p in JsonSerializer.SerializeToElement(extra).EnumerateObject())
            {
                body[p.Name] = p.Value;
            }
        }

        return body;
    }

    private static async Task<Guid> CreateAsync(Setup s, object body)
    {
        var response = await s.Api.PostJsonAsync("/api/v1/evaluators", body);
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
    }

    private async Task<BatchRun> RunAsync(Setup s, Guid evaluatorId, IEnumerable<Guid> traceIds)
    {
        var response = await s.Api.PostJsonAsync($"/api/v1/evaluators/{evaluatorId}/run", new { trace_ids = traceIds });
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        var runId = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("batch_run_id").GetGuid();
        // The jobs are off on this clock; the batch-run job's one call runs it here.
        Assert.NotEqual(BatchRunOutcome.Skipped, await app.Services.GetRequiredService<BatchRunExecutor>().RunAsync(s.Team.Id, runId, default));
        var run = await s.Api.GetJsonAsync($"/api/v1/batch-runs/{runId}");
        Assert.Equal(runId, run.GetProperty("id").GetGuid());
        await using var scope = app.ScopeFor(s.Team);
        return await scope.ServiceProvider.GetRequiredService<BatchRuns>().GetAsync(runId);
    }

    private async Task<List<Score>> ScoresAsync(TestTeam team, Guid traceId)
    {
        await using var scope = app.ScopeFor(team);
        await using var db = await scope.ServiceProvider.GetRequiredService<IEvalDbContextFactory>().CreateAsync();
        return await db.Scores.AsNoTracking().Where(x => x.TraceId == traceId).ToListAsync();
    }

    [Fact]
    public async Task Run_OnASelection_StoresNamedScoresWithReasoning_AndARerunReplacesThem()
    {
        var s = await SetUpAsync();
        var first = await s.Api.PostTraceAsync(new { user_input = "What is 2+2?", response = "4", model = "gpt-4o" });
        var second = await s.Api.PostTraceAsync(new { user_input = "Capital of France?", response = "Paris", model = "gpt-4o" });
        var id = await CreateAsync(s, Body(s, "correctness"));
        app.OpenAi.NextText(Pass);
        app.OpenAi.NextText(Pass);

        var run = await RunAsync(s, id, [first, second]);

        Assert.Equal(BatchRunStatus.Completed, run.Status);
        Assert.Equal((2, 2, 0), (run.Total, run.Done, run.Failed));
        var sent = app.OpenAi.Requests[^2].Json;
        Assert.Equal("json_object", sent.GetProperty("response_format").GetProperty("type").GetString());
        var prompt = sent.GetProperty("messages")[1].GetProperty("content").GetString();
        Assert.Contains("What is 2+2?", prompt, StringComparison.Ordinal);
        Assert.Contains("Answer: 4\nIs the answer correct?", prompt, StringComparison.Ordinal);
        var score = Assert.Single(await ScoresAsync(s.Team, first));
        Assert.Equal(("correctness", ScoreSource.Evaluator, $"evaluator:{id}", 1.0, "The answer is correct."),
            (score.Name, score.Source, score.Author, score.NumericValue!.Value, score.Comment));
        Assert.Single(await ScoresAsync(s.Team, second));

        app.OpenAi.NextText(Fail);
        var again = await RunAsync(s, id, [first]);
        Assert.Equal(1, again.Done);
        var replaced = Assert.Single(await ScoresAsync(s.Team, first));
        Assert.Equal((0.0, "Wrong."), (replaced.NumericValue!.Value, replaced.Comment));
    }

    [Fact]
    public async Task Run_UnparsableAnswers429And500_AreFailedItemsWithReasons_NeverScores()
    {
        var s = await SetUpAsync();
        var traces = new List<Guid>();
        for (var i = 0; i < 4; i++)
        {
            traces.Add(await s.Api.PostTraceAsync(new { user_input = $"q{i}", response = $"a{i}" }));
        }

        var id = await CreateAsync(s, Body(s, "scale", "scale_1_5"));
        app.OpenAi.NextText("I would say it is pretty good.");
        app.OpenAi.NextText("""{"reasoning": "x", "verdict": 7}""");
        app.OpenAi.NextError(429, retryAfter: "3");
        app.OpenAi.NextError(500);

        var run = await RunAsync(s, id, traces);

        Assert.Equal(BatchRunStatus.Completed, run.Status);
        Assert.Equal((4, 0, 4), (run.Total, run.Done, run.Failed));
        Assert.StartsWith("The judge's provider refused the call (500)", run.LastError, StringComparison.Ordinal);
        foreach (var trace in traces)
        {
            Assert.Empty(await ScoresAsync(s.Team, trace));
        }
    }

    [Fact]
    public async Task DailyBudget_StopsTheRun_TheRestSkippedAsBudgetReached()
    {
        var s = await SetUpAsync();
        var traces = new List<Guid>();
        for (var i = 0; i < 3; i++)
        {
            traces.Add(await s.Api.PostTraceAsync(new { user_input = $"q{i}", response = $"a{i}" }));
        }

        var id = await CreateAsync(s, Body(s, "budgeted", extra: new { daily_budget_usd = 0.5 }));
        // gpt-4o-mini at 0.15 + 0.60 USD per million tokens: this one answer costs 0.75, past the 0.50 budget.
        app.OpenAi.Next(new FakeReply(Text: Pass, InputTokens: 1_000_000, OutputTokens: 1_000_000));
        var before = app.OpenAi.Requests.Count;

        var run = await RunAsync(s, id, traces);

        Assert.Equal((1, 2), (run.Done, run.Failed));
        Assert.Equal("budget reached", run.LastError);
        Assert.Equal(before + 1, app.OpenAi.Requests.Count);
        var view = await s.Api.GetJsonAsync($"/api/v1/evaluators/{id}");
        Assert.Equal(0.75, view.GetProperty("spent_today_usd").GetDouble(), 6);
    }

    [Fact]
    public async Task NewTraces_MatchingTheFilter_AreJudgedOnce_ByTheMinuteRunner()
    {
        var s = await SetUpAsync();
        var id = await CreateAsync(s, Body(s, "live", extra: new { on_new_traces = true, filter = new { model = "gpt-4o" } }));
        app.Clock.Advance(TimeSpan.FromSeconds(1));
        var matching = await s.Api.PostTraceAsync(new { user_input = "q", response = "a", model = "gpt-4o" });
        var other = await s.Api.PostTraceAsync(new { user_input = "q", response = "a", model = "claude-sonnet-4" });
        app.Clock.Advance(EvaluatorJudge.SettleTime + TimeSpan.FromSeconds(1));
        app.OpenAi.DefaultReply = new FakeReply(Text: Pass);
        var runner = app.Services.GetRequiredService<EvaluatorRunner>();

        var run = await runner.JudgeNewTracesAsync();
        Assert.Equal(0, run.Failed);
        var requests = app.OpenAi.Requests.Count;
        var second = await runner.JudgeNewTracesAsync();

        Assert.Equal(requests, app.OpenAi.Requests.Count);
        Assert.Equal(0, second.Scored);
        var score = Assert.Single(await ScoresAsync(s.Team, matching));
        Assert.Equal($"evaluator:{id}", score.Author);
        Assert.Empty(await ScoresAsync(s.Team, other));
    }

    [Fact]
    public async Task Create_WithBadFields_IsAProblemNamingTheField_AndAReadKeyCannotManage()
    {
        var s = await SetUpAsync();
        foreach (var (body, field) in new (object, string)[]
                 {
                     (Body(s, "x", output: "stars"), "output"),
                     (new { name = "x", connection_id = Guid.NewGuid(), model = "m", prompt = "{{output}}", output = "pass_fail" }, "connection_id"),
                     (new { name = "x", connection_id = s.Connection.Id, model = "m", prompt = "no variables here", output = "pass_fail" }, "prompt"),
                     (Body(s, "x", extra: new { sample_percent = 0 }), "sample_percent"),
                     (Body(s, "", extra: null), "name"),
                 })
        {
            var response = await s.Api.PostJsonAsync("/api/v1/evaluators", body);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
            Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), $"expected an error on {field}: {problem}");
        }

        using var reader = await ApiClient.ForTeamAsync(app, s.Team.Id, ApiKeyScopes.Read);
        Assert.Equal(HttpStatusCode.Forbidden, (await reader.PostJsonAsync("/api/v1/evaluators", Body(s, "y"))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await reader.Http.GetAsync("/api/v1/evaluators")).StatusCode);
    }

    [Fact]
    public async Task AnotherTeam_CannotSeeRunOrCancel_TheEvaluatorOrItsRuns()
    {
        var s = await SetUpAsync();
        var trace = await s.Api.PostTraceAsync(new { user_input = "q", response = "a" });
        var id = await CreateAsync(s, Body(s, "private"));
        app.OpenAi.NextText(Pass);
        var run = await RunAsync(s, id, [trace]);

        var (other, _) = await ApiClient.ForNewTeamAsync(app, ApiKeyScopes.Admin | ApiKeyScopes.Read | ApiKeyScopes.Ingest);
        using (other)
        {
            Assert.Equal(HttpStatusCode.NotFound, (await other.Http.GetAsync($"/api/v1/evaluators/{id}")).StatusCode);
            Assert.Equal(HttpStatusCode.NotFound, (await other.PostJsonAsync($"/api/v1/evaluators/{id}/run", new { trace_ids = new[] { trace } })).StatusCode);
            Assert.Equal(HttpStatusCode.NotFound, (await other.Http.GetAsync($"/api/v1/batch-runs/{run.Id}")).StatusCode);
            Assert.Equal(HttpStatusCode.NotFound, (await other.PostJsonAsync($"/api/v1/batch-runs/{run.Id}/cancel", new { })).StatusCode);
            Assert.Equal(0, (await other.GetJsonAsync("/api/v1/evaluators")).GetProperty("items").GetArrayLength());
            // Team B's own evaluator cannot run on team A's trace either.
            var mine = await other.PostTraceAsync(new { user_input = "q", response = "a" });
            Assert.NotEqual(mine, trace);
        }
    }

    [Fact]
    public async Task Agreement_ComparesTheJudgeWithHumanVerdicts()
    {
        var s = await SetUpAsync();
        var accepted = await s.Api.PostTraceAsync(new { user_input = "q1", response = "a1" });
        var rejected = await s.Api.PostTraceAsync(new { user_input = "q2", response = "a2" });
        Assert.True((await s.Api.PostJsonAsync($"/api/v1/traces/{accepted}/review", new { action = "accept" })).IsSuccessStatusCode);
        var reject = await s.Api.PostJsonAsync($"/api/v1/traces/{rejected}/review", new { action = "reject", reason = "incomplete" });
        Assert.True(reject.IsSuccessStatusCode, await reject.Content.ReadAsStringAsync());
        var id = await CreateAsync(s, Body(s, "agreeing"));
        app.OpenAi.NextText(Pass);
        app.OpenAi.NextText(Pass);
        await RunAsync(s, id, [accepted, rejected]);

        var agreement = await s.Api.GetJsonAsync($"/api/v1/evaluators/{id}/agreement");

        Assert.Equal(2, agreement.GetProperty("count").GetInt32());
        Assert.Equal(0.5, agreement.GetProperty("percent_agreement").GetDouble(), 6);
        Assert.Equal(1, agreement.GetProperty("table")[0][0].GetInt32());
        Assert.Equal(1, agreement.GetProperty("table")[0][1].GetInt32());
    }
}

public sealed class PostgresEvaluatorTests(ProviderPostgresAppFactory app) : EvaluatorTests(app), IClassFixture<ProviderPostgresAppFactory>;

public sealed class SqliteEvaluatorTests(ProviderSqliteAppFactory app) : EvaluatorTests(app), IClassFixture<ProviderSqliteAppFactory>;
