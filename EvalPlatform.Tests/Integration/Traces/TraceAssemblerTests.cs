using EvalPlatform.Core.Assembly;
using EvalPlatform.Core.Common;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Core.Traces;
using EvalPlatform.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace EvalPlatform.Tests.Integration.Traces;

/// <summary>
/// Trace assembly on each database: spans of one trace over several calls, children first, patches
/// before posts, retries, duplicates, invalid records, concurrency and tenancy.
/// </summary>
public abstract class TraceAssemblerTests(EvalAppFactory app)
{
    private static readonly DateTimeOffset T0 = new(2026, 8, 20, 10, 0, 0, TimeSpan.Zero);

    private async Task<AssemblyResult> AssembleAsync(Guid teamId, params SpanRecord[] records)
    {
        await using var scope = app.Services.CreateAsyncScope();
        scope.ServiceProvider.GetRequiredService<TeamContext>().SetApiKey(teamId, Guid.NewGuid(), ApiKeyScopes.Ingest);
        return await scope.ServiceProvider.GetRequiredService<TraceAssembler>().AssembleAsync(records);
    }

    private async Task<TraceDetail> ReadAsync(Guid teamId, Guid traceId)
    {
        await using var scope = app.Services.CreateAsyncScope();
        scope.ServiceProvider.GetRequiredService<TeamContext>().SetApiKey(teamId, Guid.NewGuid(), ApiKeyScopes.Read);
        return await scope.ServiceProvider.GetRequiredService<TraceQueries>().GetAsync(traceId);
    }

    private static SpanRecord Root(string trace) => new()
    {
        TraceKey = trace, SpanKey = "root", Kind = SpanKind.Chain, Name = "support-agent", StartedAt = T0, EndedAt = T0.AddSeconds(2),
        Input = "\"Where is my order?\"", Output = "\"It shipped.\"",
        Trace = new TraceHints { SessionId = "s-9", UserId = "u-42", Tags = ["prod"], Metadata = """{"tenant":"acme"}""" },
    };

    private static SpanRecord Generation(string trace, string key = "llm", int promptTokens = 812) => new()
    {
        TraceKey = trace, SpanKey = key, ParentKey = "root", Kind = SpanKind.Llm, Name = "chat gpt-4o",
        StartedAt = T0.AddMilliseconds(100), EndedAt = T0.AddMilliseconds(1300), Model = "gpt-4o", Provider = "openai",
        PromptTokens = promptTokens, CompletionTokens = 64,
        Input = """{"messages":[{"role":"system","content":"You are a support bot."},{"role":"user","content":"Where is my order?"}]}""",
        Output = """{"role":"assistant","content":"It shipped yesterday."}""",
        Attributes = """{"gen_ai.request.temperature":0.2}""",
    };

    private static SpanRecord Tool(string trace) => new()
    {
        TraceKey = trace, SpanKey = "tool", ParentKey = "llm", Kind = SpanKind.Tool, Name = "lookup_order",
        StartedAt = T0.AddMilliseconds(500), EndedAt = T0.AddMilliseconds(700), Input = """{"id":7}""", Output = """{"status":"shipped"}""",
    };

    [Fact]
    public async Task SpansOverSeveralCalls_ChildrenFirst_AssembleIntoOneTrace_WithItsSummary()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        var key = Guid.NewGuid().ToString("N");

        var first = await AssembleAsync(team.Id, Tool(key));
        var second = await AssembleAsync(team.Id, Generation(key));
        var third = await AssembleAsync(team.Id, Root(key));

        var traceId = first.Spans[0].TraceId!.Value;
        Assert.All([first, second, third], r => Assert.Equal((SpanOutcome.Created, traceId), (r.Spans[0].Outcome, r.Spans[0].TraceId!.Value)));
        var detail = await ReadAsync(team.Id, traceId);
        var t = detail.Trace;
        Assert.Equal((key, "support-agent", "s-9", "u-42"), (t.ExternalId, t.Name, t.SessionId, t.UserId));
        Assert.Equal(["prod"], t.Tags);
        Assert.Equal((T0, T0.AddSeconds(2), 2000.0), (t.StartedAt, t.EndedAt, t.LatencyMs));
        Assert.Equal(("gpt-4o", "openai", 812, 64, 876), (t.Model, t.Provider, t.PromptTokens, t.CompletionTokens, t.TotalTokens));
        Assert.True(t.CostComputed);
        Assert.Equal(ModelPrices.Compute("gpt-4o", 812, 64), t.Cost);
        Assert.Equal(("Where is my order?", "It shipped yesterday."), (t.InputPreview, t.OutputPreview));

        var spans = detail.Spans.ToDictionary(s => s.ExternalId!);
        Assert.Equal(["root", "llm", "tool"], detail.Spans.Select(s => s.ExternalId));
        Assert.Null(spans["root"].ParentSpanId);
        Assert.Equal(spans["root"].Id, spans["llm"].ParentSpanId);
        Assert.Equal(spans["llm"].Id, spans["tool"].ParentSpanId);
        Assert.Equal(200, spans["tool"].DurationMs);
    }

    [Fact]
    public async Task ARetriedCall_ChangesNothing_AndReportsUnchanged()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        var key = Guid.NewGuid().ToString("N");
        var created = await AssembleAsync(team.Id, Root(key), Generation(key), Tool(key));
        var before = await ReadAsync(team.Id, created.Spans[0].TraceId!.Value);

        var again = await AssembleAsync(team.Id, Root(key), Generation(key), Tool(key));

        Assert.All(again.Spans, s => Assert.Equal(SpanOutcome.Unchanged, s.Outcome));
        var after = await ReadAsync(team.Id, created.Spans[0].TraceId!.Value);
        Assert.Equal(3, after.Spans.Count);
        Assert.Equal(before.Trace.UpdatedAt, after.Trace.UpdatedAt);
        Assert.Equal(created.Spans.Select(s => s.SpanId), again.Spans.Select(s => s.SpanId));
    }

    [Fact]
    public async Task AnUpdateBeforeItsCreate_MakesAPlaceholder_ThatTheCreateCompletes_AndAttributesMerge()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        var key = Guid.NewGuid().ToString("N");
        var patch = new SpanRecord
        {
            TraceKey = key, SpanKey = "llm", IsUpdate = true, EndedAt = T0.AddMilliseconds(1300),
            Output = """{"role":"assistant","content":"Patched answer."}""", Attributes = """{"b":2,"a":"new"}""",
        };

        var first = await AssembleAsync(team.Id, patch);
        var placeholder = Assert.Single((await ReadAsync(team.Id, first.Spans[0].TraceId!.Value)).Spans);
        Assert.True(placeholder.Placeholder);

        var post = new SpanRecord
        {
            TraceKey = key, SpanKey = "llm", RejectIfExists = true, Kind = SpanKind.Llm, Name = "ChatOpenAI", StartedAt = T0,
            Input = """{"messages":[{"role":"user","content":"Hi"}]}""", Attributes = """{"a":"old","c":3}""",
        };
        var second = await AssembleAsync(team.Id, post);

        Assert.Equal(SpanOutcome.Updated, second.Spans[0].Outcome);
        var span = Assert.Single((await ReadAsync(team.Id, first.Spans[0].TraceId!.Value)).Spans);
        Assert.False(span.Placeholder);
        Assert.Equal(("ChatOpenAI", SpanKind.Llm, T0, T0.AddMilliseconds(1300)), (span.Name, span.Kind, span.StartedAt, span.EndedAt));
        Assert.Equal("""{"role":"assistant","content":"Patched answer."}""", span.Output);
        Assert.Equal("""{"b":2,"a":"old","c":3}""", span.Attributes);

        var duplicate = await AssembleAsync(team.Id, post);
        Assert.Equal(SpanOutcome.Duplicate, duplicate.Spans[0].Outcome);
    }

    [Fact]
    public async Task InvalidRecords_AreRejectedByPath_AndTheValidOnesStored()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        var key = Guid.NewGuid().ToString("N");
        var bad = new SpanRecord
        {
            TraceKey = key, SpanKey = "bad", Path = "spans[1]", Name = "x", StartedAt = T0, EndedAt = T0.AddSeconds(-5),
            Attributes = "[1,2]", Model = new string('m', 201),
        };

        var result = await AssembleAsync(team.Id, Root(key), bad);

        Assert.Equal([SpanOutcome.Created, SpanOutcome.Rejected], result.Spans.Select(s => s.Outcome));
        Assert.Equal(["spans[1].attributes", "spans[1].end_time", "spans[1].model"], result.Errors.Select(e => e.Field).Order());
        var stored = await ReadAsync(team.Id, result.Spans[0].TraceId!.Value);
        Assert.Equal("root", Assert.Single(stored.Spans).ExternalId);
    }

    [Fact]
    public async Task OnlyInvalidRecords_StoreNoTrace()
    {
        var team = await TestData.CreateTeamAsync(app.Services);

        var result = await AssembleAsync(team.Id, new SpanRecord { TraceKey = "", SpanKey = "a", Path = "p" });

        Assert.Equal("p.trace_id", Assert.Single(result.Errors).Field);
        await using var scope = app.Services.CreateAsyncScope();
        scope.ServiceProvider.GetRequiredService<TeamContext>().SetApiKey(team.Id, Guid.NewGuid(), ApiKeyScopes.Read);
        var page = await scope.ServiceProvider.GetRequiredService<TraceQueries>().ListAsync(new TraceFilter(), null, 10);
        Assert.Empty(page.Items);
    }

    [Fact]
    public async Task ATraceSentWholeThroughTheApi_IsNeverMergedInto()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        var key = Guid.NewGuid().ToString("N");
        using var api = await ApiClient.ForTeamAsync(app, team.Id, ApiKeyScopes.Ingest);
        var nativeId = await api.PostTraceAsync(new
        {
            external_id = key, user_input = "Native question", response = "Native answer", model = "gpt-4o-mini",
            usage = new { prompt_tokens = 10, completion_tokens = 5 },
        });

        var result = await AssembleAsync(team.Id, new SpanRecord
        {
            TraceKey = key, SpanKey = "llm", Path = "spans[0]", Kind = SpanKind.Llm, Name = "chat gpt-4o", StartedAt = T0, Model = "gpt-4o", PromptTokens = 999,
        });

        Assert.Equal(SpanOutcome.Rejected, Assert.Single(result.Spans).Outcome);
        Assert.Equal("spans[0].trace_id", Assert.Single(result.Errors).Field);
        var native = await ReadAsync(team.Id, nativeId);
        Assert.Equal(("gpt-4o-mini", 10, 5, "Native question"), (native.Trace.Model, native.Trace.PromptTokens, native.Trace.CompletionTokens, native.Trace.InputPreview));
        Assert.DoesNotContain(native.Spans, s => s.ExternalId == "llm");
    }

    [Fact]
    public async Task AParentLoop_LeavesEverySpanReachable()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        var key = Guid.NewGuid().ToString("N");

        var result = await AssembleAsync(team.Id,
            new SpanRecord { TraceKey = key, SpanKey = "a", ParentKey = "b", Name = "a", StartedAt = T0 },
            new SpanRecord { TraceKey = key, SpanKey = "b", ParentKey = "a", Name = "b", StartedAt = T0.AddSeconds(1) });

        var spans = (await ReadAsync(team.Id, result.Spans[0].TraceId!.Value)).Spans;
        Assert.Single(spans, s => s.ParentSpanId is null);
    }

    [Fact]
    public async Task ConcurrentCalls_ForOneTrace_MakeOneTrace_WithEverySpan()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        var key = Guid.NewGuid().ToString("N");

        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(i => AssembleAsync(team.Id, new SpanRecord
        {
            TraceKey = key, SpanKey = $"s{i}", ParentKey = i == 0 ? null : "s0", Name = $"step {i}", StartedAt = T0.AddSeconds(i), Kind = SpanKind.Other,
        })));

        Assert.Single(results.Select(r => r.Spans[0].TraceId).Distinct());
        var detail = await ReadAsync(team.Id, results[0].Spans[0].TraceId!.Value);
        Assert.Equal(8, detail.Spans.Count);
        Assert.Equal(7, detail.Spans.Count(s => s.ParentSpanId == detail.Spans.Single(p => p.ExternalId == "s0").Id));
    }

    [Fact]
    public async Task TheSameTraceKey_InAnotherTeam_IsAnotherTrace_AndInvisibleToTheFirst()
    {
        var teamA = await TestData.CreateTeamAsync(app.Services);
        var teamB = await TestData.CreateTeamAsync(app.Services);
        var key = Guid.NewGuid().ToString("N");

        var a = await AssembleAsync(teamA.Id, Root(key));
        var b = await AssembleAsync(teamB.Id, Generation(key));

        Assert.NotEqual(a.Spans[0].TraceId, b.Spans[0].TraceId);
        Assert.Single((await ReadAsync(teamA.Id, a.Spans[0].TraceId!.Value)).Spans);
        await Assert.ThrowsAsync<NotFoundException>(() => ReadAsync(teamA.Id, b.Spans[0].TraceId!.Value));
    }

    [Fact]
    public async Task WithoutTheIngestScope_NothingIsStored()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        await using var scope = app.Services.CreateAsyncScope();
        scope.ServiceProvider.GetRequiredService<TeamContext>().SetApiKey(team.Id, Guid.NewGuid(), ApiKeyScopes.Read);

        await Assert.ThrowsAsync<PermissionDeniedException>(() =>
            scope.ServiceProvider.GetRequiredService<TraceAssembler>().AssembleAsync([Root("k")]));
    }
}

public sealed class TraceAssemblerPostgresTests(PostgresAppFactory app) : TraceAssemblerTests(app), IClassFixture<PostgresAppFactory>;

public sealed class TraceAssemblerSqliteTests(SqliteAppFactory app) : TraceAssemblerTests(app), IClassFixture<SqliteAppFactory>;
