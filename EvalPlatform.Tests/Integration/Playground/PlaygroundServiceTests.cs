using System.Net.Http.Json;
using System.Text.Json;
using EvalPlatform.Core.Common;
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
/// The playground's service on each database, against the fake OpenAI and Anthropic servers: two configurations streamed
/// side by side chunk by chunk, provider refusals as a column's error, cancel, variables, another team's connection and
/// trace refused, results saved as traces through ingestion and sent to a review queue.
/// </summary>
public abstract class PlaygroundServiceTests(ProviderAppFactory app)
{
    private static readonly PlaygroundPrompt Hello = new("Be brief.", [new PlaygroundMessage("user", "Say hello.")]);

    private sealed record Setup(TestTeam Team, string ReviewerId, ProviderConnection OpenAi, ProviderConnection Anthropic);

    private async Task<Setup> SetUpAsync()
    {
        // Replies a cancelled test left queued must not answer this one.
        app.OpenAi.Reset();
        app.Anthropic.Reset();
        var team = await TestData.CreateTeamAsync(app.Services);
        var reviewer = await TestData.CreateUserInTeamAsync(app.Services, team.Id, TeamRole.Reviewer);
        var openAi = await app.AddConnectionAsync(team, ProviderKind.OpenAi, "OpenAI main", app.OpenAi.BaseUrl, FakeOpenAiServer.Key, app.Clock.GetUtcNow());
        var anthropic = await app.AddConnectionAsync(team, ProviderKind.Anthropic, "Claude", app.Anthropic.BaseUrl, FakeAnthropicServer.Key, app.Clock.GetUtcNow());
        return new Setup(team, reviewer, openAi, anthropic);
    }

    private async Task<T> AsAsync<T>(Guid teamId, string userId, TeamRole role, Func<IServiceProvider, Task<T>> act)
    {
        await using var scope = app.Services.CreateAsyncScope();
        scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(teamId, userId, role);
        return await act(scope.ServiceProvider);
    }

    private Task<T> AsReviewerAsync<T>(Setup s, Func<PlaygroundService, Task<T>> act) =>
        AsAsync(s.Team.Id, s.ReviewerId, TeamRole.Reviewer, sp => act(sp.GetRequiredService<PlaygroundService>()));

    private static async Task<List<PlaygroundUpdate>> ReadAllAsync(IAsyncEnumerable<PlaygroundUpdate> run)
    {
        var updates = new List<PlaygroundUpdate>();
        await foreach (var update in run)
        {
            updates.Add(update);
        }

        return updates;
    }

    [Fact]
    public async Task Run_TwoConfigurations_StreamSideBySide_ChunkByChunk_WithUsageCostLatencyAndTtft()
    {
        var s = await SetUpAsync();
        app.OpenAi.Next(new FakeReply(Text: "one two three four", ChunkDelay: TimeSpan.FromMilliseconds(20), InputTokens: 1_000_000, OutputTokens: 1_000_000));
        app.Anthropic.Next(new FakeReply(Text: "alpha beta gamma", ChunkDelay: TimeSpan.FromMilliseconds(20)));
        PlaygroundConfig[] configs = [new(s.OpenAi.Id, "gpt-4o-mini", 0.3, 64), new(s.Anthropic.Id, "claude-sonnet-4-20250514", null, 100)];

        var updates = await AsReviewerAsync(s, p => ReadAllAsync(p.RunAsync(Hello, configs)));

        // Chunk by chunk: one update per streamed word, before the column's one result.
        Assert.Equal(["one ", "two ", "three ", "four"], updates.Where(u => u.Column == 0 && u.TextDelta is not null).Select(u => u.TextDelta));
        Assert.Equal(["alpha ", "beta ", "gamma"], updates.Where(u => u.Column == 1 && u.TextDelta is not null).Select(u => u.TextDelta));
        Assert.Equal(2, updates.Count(u => u.Result is not null));
        Assert.All(new[] { 0, 1 }, c => Assert.True(updates.FindIndex(u => u.Column == c && u.Result is not null) > updates.FindLastIndex(u => u.Column == c && u.TextDelta is not null)));
        var openAi = updates.Single(u => u.Column == 0 && u.Result is not null).Result!;
        Assert.True(openAi.Succeeded);
        Assert.Equal("one two three four", openAi.Text);
        Assert.Equal(1_000_000, openAi.InputTokens);
        Assert.Equal(0.75m, openAi.Cost); // gpt-4o-mini: 0.15 + 0.60 per million
        Assert.NotNull(openAi.TimeToFirstTokenMs);
        Assert.True(openAi.LatencyMs > openAi.TimeToFirstTokenMs);
        var claude = updates.Single(u => u.Column == 1 && u.Result is not null).Result!;
        Assert.Equal("alpha beta gamma", claude.Text);
        Assert.Equal(3, claude.OutputTokens);
        Assert.NotNull(claude.Cost);

        var sentOpenAi = app.OpenAi.Requests[^1].Json;
        Assert.Equal("Be brief.", sentOpenAi.GetProperty("messages")[0].GetProperty("content").GetString());
        Assert.Equal(0.3, sentOpenAi.GetProperty("temperature").GetDouble());
        var sentClaude = app.Anthropic.Requests[^1].Json;
        Assert.Equal(100, sentClaude.GetProperty("max_tokens").GetInt32());

        // Every call counted for the connection, as the playground's.
        var calls = await AsAsync(s.Team.Id, s.Team.OwnerId, TeamRole.Owner, async sp =>
        {
            await using var db = await sp.GetRequiredService<IEvalDbContextFactory>().CreateAsync();
            return await db.ProviderCalls.AsNoTracking().ToListAsync();
        });
        Assert.Equal(2, calls.Count);
        Assert.All(calls, c => Assert.Equal(ProviderCallSource.Playground, c.Source));
    }

    [Fact]
    public async Task Run_ProviderRefusals_AreTheColumnsErrors_NotExceptions()
    {
        var s = await SetUpAsync();
        app.OpenAi.NextError(429, retryAfter: "3", message: "Slow down.");
        app.Anthropic.NextError(500);
        PlaygroundConfig[] configs = [new(s.OpenAi.Id, "gpt-4o"), new(s.Anthropic.Id, "claude-sonnet-4-20250514")];

        var results = (await AsReviewerAsync(s, p => ReadAllAsync(p.RunAsync(Hello, configs)))).Where(u => u.Result is not null).ToDictionary(u => u.Column, u => u.Result!);

        Assert.Equal(429, results[0].ErrorStatus);
        Assert.Contains("Slow down.", results[0].Error, StringComparison.Ordinal);
        Assert.Equal(500, results[1].ErrorStatus);
        Assert.False(results[1].Succeeded);
    }

    [Fact]
    public async Task Run_Cancelled_StopsEveryStream_AndColumnsKeepWhatArrived()
    {
        var s = await SetUpAsync();
        var words = string.Join(' ', Enumerable.Range(1, 200).Select(i => $"w{i}"));
        app.OpenAi.Next(new FakeReply(Text: words, ChunkDelay: TimeSpan.FromMilliseconds(50)));
        app.Anthropic.Next(new FakeReply(Text: words, ChunkDelay: TimeSpan.FromMilliseconds(50)));
        PlaygroundConfig[] configs = [new(s.OpenAi.Id, "gpt-4o"), new(s.Anthropic.Id, "claude-sonnet-4-20250514")];
        using var cancel = new CancellationTokenSource();
        var watch = System.Diagnostics.Stopwatch.StartNew();

        var updates = await AsReviewerAsync(s, async p =>
        {
            var seen = new List<PlaygroundUpdate>();
            await foreach (var u in p.RunAsync(Hello, configs, cancel.Token))
            {
                seen.Add(u);
                if (seen.Where(x => x.TextDelta is not null).Select(x => x.Column).Distinct().Count() == 2 && !cancel.IsCancellationRequested)
                {
                    await cancel.CancelAsync();
                }
            }

            return seen;
        });

        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5), $"The run took {watch.Elapsed} after cancel: the streams were not stopped.");
        var results = updates.Where(u => u.Result is not null).Select(u => u.Result!).ToList();
        Assert.Equal(2, results.Count);
        Assert.All(results, r => Assert.True(r.Cancelled));
        Assert.All(results, r => Assert.StartsWith("w1", r.Text, StringComparison.Ordinal));
        Assert.All(results, r => Assert.True(r.Text.Length < words.Length));
    }

    [Fact]
    public async Task Run_FillsVariables_AndRefusesOneWithoutAValue()
    {
        var s = await SetUpAsync();
        var prompt = new PlaygroundPrompt("You answer as {{persona}}.", [new PlaygroundMessage("user", "Translate {{ text }} please, {{persona}}.")],
            new Dictionary<string, string> { ["persona"] = "a pirate", ["text"] = "hello" });
        Assert.Equal(["persona", "text"], PromptVariables.Find(prompt));

        await AsReviewerAsync(s, p => ReadAllAsync(p.RunAsync(prompt, [new PlaygroundConfig(s.OpenAi.Id, "gpt-4o")])));
        var sent = app.OpenAi.Requests[^1].Json.GetProperty("messages");
        Assert.Equal("You answer as a pirate.", sent[0].GetProperty("content").GetString());
        Assert.Equal("Translate hello please, a pirate.", sent[1].GetProperty("content").GetString());

        var missing = prompt with { Variables = new Dictionary<string, string> { ["persona"] = "x" } };
        var e = await Assert.ThrowsAsync<DomainValidationException>(() => AsReviewerAsync(s, p => ReadAllAsync(p.RunAsync(missing, [new PlaygroundConfig(s.OpenAi.Id, "gpt-4o")]))));
        Assert.Equal("variables.text", e.Field);
        var tooMany = await Assert.ThrowsAsync<DomainValidationException>(() => AsReviewerAsync(s, p => ReadAllAsync(p.RunAsync(Hello, Enumerable.Repeat(new PlaygroundConfig(s.OpenAi.Id, "gpt-4o"), 5).ToList()))));
        Assert.Equal("configs", tooMany.Field);
        var hot = await Assert.ThrowsAsync<DomainValidationException>(() => AsReviewerAsync(s, p => ReadAllAsync(p.RunAsync(Hello, [new PlaygroundConfig(s.OpenAi.Id, "gpt-4o", Temperature: 3)]))));
        Assert.Equal("configs[0].temperature", hot.Field);
    }

    [Fact]
    public async Task Run_WithAnotherTeamsConnection_IsRefused_WithoutCallingIt()
    {
        var s = await SetUpAsync();
        var other = await SetUpAsync();
        var before = app.OpenAi.Requests.Count;

        var e = await Assert.ThrowsAsync<DomainValidationException>(() => AsReviewerAsync(s, p => ReadAllAsync(p.RunAsync(Hello, [new PlaygroundConfig(other.OpenAi.Id, "gpt-4o")]))));

        Assert.Equal("configs[0].connection_id", e.Field);
        Assert.Equal(before, app.OpenAi.Requests.Count);
        var listed = await AsReviewerAsync(s, p => p.ConnectionsAsync());
        Assert.Equal(new[] { s.OpenAi.Id, s.Anthropic.Id }.Order(), listed.Select(c => c.Id).Order());
    }

    [Fact]
    public async Task AViewer_MayNotUseThePlayground()
    {
        var s = await SetUpAsync();
        var viewer = await TestData.CreateUserInTeamAsync(app.Services, s.Team.Id, TeamRole.Viewer);
        await Assert.ThrowsAsync<PermissionDeniedException>(() => AsAsync(s.Team.Id, viewer, TeamRole.Viewer,
            sp => ReadAllAsync(sp.GetRequiredService<PlaygroundService>().RunAsync(Hello, [new PlaygroundConfig(s.OpenAi.Id, "gpt-4o")]))));
    }

    [Fact]
    public async Task Save_StoresEachColumnAsATraceTaggedPlayground_NamingConfigurationAndOriginal_AndSendsThemToAQueue()
    {
        var s = await SetUpAsync();
        var original = await SendTraceAsync(s.Team.Id);
        app.OpenAi.Next(new FakeReply(Text: "Ahoy there."));
        app.Anthropic.NextError(429, retryAfter: "1");
        var prompt = Hello with { Messages = [new PlaygroundMessage("user", "Greet {{who}}.")], Variables = new Dictionary<string, string> { ["who"] = "Ann" } };
        PlaygroundConfig[] configs = [new(s.OpenAi.Id, "gpt-4o-mini", 0.7, 50), new(s.Anthropic.Id, "claude-sonnet-4-20250514")];
        var results = (await AsReviewerAsync(s, p => ReadAllAsync(p.RunAsync(prompt, configs)))).Where(u => u.Result is not null).OrderBy(u => u.Column).ToList();

        var ids = await AsReviewerAsync(s, p => p.SaveAsync(prompt, results.Select(u => new PlaygroundSaveItem(u.Column, configs[u.Column], u.Result!)).ToList(), original));

        Assert.Equal(2, ids.Count);
        Assert.All(ids, id => Assert.NotNull(id));
        var (answered, refused) = await AsAsync(s.Team.Id, s.ReviewerId, TeamRole.Reviewer, async sp =>
        {
            var queries = sp.GetRequiredService<TraceQueries>();
            return (await queries.GetAsync(ids[0]!.Value), await queries.GetAsync(ids[1]!.Value));
        });
        Assert.Contains("playground", answered.Trace.Tags);
        Assert.Equal("gpt-4o-mini", answered.Trace.Model);
        Assert.Equal("openai", answered.Trace.Provider);
        Assert.Null(answered.Trace.Error);
        var metadata = JsonDocument.Parse(answered.Trace.Metadata!).RootElement;
        Assert.Equal(1, metadata.GetProperty("playground").GetProperty("configuration").GetInt32());
        Assert.Equal(original.ToString(), metadata.GetProperty("playground").GetProperty("original_trace_id").GetString());
        Assert.Equal("OpenAI main", metadata.GetProperty("playground").GetProperty("connection").GetString());
        Assert.Equal(0.7, metadata.GetProperty("parameters").GetProperty("temperature").GetDouble());
        Assert.Equal("Ann", metadata.GetProperty("variables").GetProperty("who").GetString());
        Assert.False(metadata.TryGetProperty("proxy", out _));
        var generation = Assert.Single(answered.Spans, sp => sp.Kind == SpanKind.Llm);
        Assert.Contains("Greet Ann.", generation.Input, StringComparison.Ordinal);
        Assert.Contains("Ahoy there.", generation.Output, StringComparison.Ordinal);
        Assert.Contains("playground", refused.Trace.Tags);
        Assert.Equal("anthropic", refused.Trace.Provider);
        Assert.NotNull(refused.Trace.Error);
        var refusedMetadata = JsonDocument.Parse(refused.Trace.Metadata!).RootElement.GetProperty("playground");
        Assert.Equal(2, refusedMetadata.GetProperty("configuration").GetInt32());
        Assert.Equal(429, refusedMetadata.GetProperty("status").GetInt32());

        // The list shows them under the tag.
        var listed = await AsAsync(s.Team.Id, s.ReviewerId, TeamRole.Reviewer, sp => sp.GetRequiredService<TraceQueries>().ListAsync(new TraceFilter(Tag: "playground"), null, 50));
        Assert.Equal(ids.Select(i => i!.Value).Order(), listed.Items.Select(i => i.Id).Order());

        // Send to queue: a queue whose filter matches nothing still hands them out.
        var queue = await AsAsync(s.Team.Id, s.Team.OwnerId, TeamRole.Owner, sp => sp.GetRequiredService<QueueService>().CreateAsync(new QueueDefinition("Playground answers", new TraceFilter(Search: "nothing-matches-this"))));
        var added = await AsAsync(s.Team.Id, s.ReviewerId, TeamRole.Reviewer, sp => sp.GetRequiredService<QueueService>().AddTracesAsync(queue.Id, ids.Select(i => i!.Value).ToList()));
        Assert.Equal(2, added);
        Assert.Equal(0, await AsAsync(s.Team.Id, s.ReviewerId, TeamRole.Reviewer, sp => sp.GetRequiredService<QueueService>().AddTracesAsync(queue.Id, [ids[0]!.Value])));
        var work = await AsAsync(s.Team.Id, s.ReviewerId, TeamRole.Reviewer, sp => sp.GetRequiredService<QueueService>().NextAsync(queue.Id));
        Assert.Contains(work!.TraceId, ids.Select(i => i!.Value));
    }

    [Fact]
    public async Task AnotherTeamsTrace_CannotBeTheOriginal_NorBeSentToAQueue()
    {
        var s = await SetUpAsync();
        var other = await SetUpAsync();
        var foreign = await SendTraceAsync(other.Team.Id);
        var result = new PlaygroundResult("x", "gpt-4o", "stop", 1, 1, null, 5, 2, app.Clock.GetUtcNow());

        await Assert.ThrowsAsync<NotFoundException>(() => AsReviewerAsync(s, p => p.SaveAsync(Hello, [new PlaygroundSaveItem(0, new PlaygroundConfig(s.OpenAi.Id, "gpt-4o"), result)], foreign)));
        var foreignConnection = await Assert.ThrowsAsync<DomainValidationException>(() => AsReviewerAsync(s, p => p.SaveAsync(Hello, [new PlaygroundSaveItem(0, new PlaygroundConfig(other.OpenAi.Id, "gpt-4o"), result)], null)));
        Assert.Equal("items[0].connection_id", foreignConnection.Field);

        var queue = await AsAsync(s.Team.Id, s.Team.OwnerId, TeamRole.Owner, sp => sp.GetRequiredService<QueueService>().CreateAsync(new QueueDefinition("Mine", new TraceFilter())));
        await Assert.ThrowsAsync<NotFoundException>(() => AsAsync(s.Team.Id, s.ReviewerId, TeamRole.Reviewer, sp => sp.GetRequiredService<QueueService>().AddTracesAsync(queue.Id, [foreign])));
        var otherQueue = await AsAsync(other.Team.Id, other.Team.OwnerId, TeamRole.Owner, sp => sp.GetRequiredService<QueueService>().CreateAsync(new QueueDefinition("Theirs", new TraceFilter())));
        await Assert.ThrowsAsync<NotFoundException>(() => AsAsync(s.Team.Id, s.ReviewerId, TeamRole.Reviewer, sp => sp.GetRequiredService<QueueService>().AddTracesAsync(otherQueue.Id, [foreign])));
    }

    private async Task<Guid> SendTraceAsync(Guid teamId)
    {
        using var api = await ApiClient.ForTeamAsync(app, teamId, ApiKeyScopes.Ingest);
        var response = await api.PostJsonAsync("/api/v1/traces", new { name = "support answer", model = "gpt-4o", system_prompt = "Be kind.", user_input = "Hi", response = "Hello!", metadata = new { customer = "Ann" } });
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
    }
}

public sealed class PostgresPlaygroundServiceTests(ProviderPostgresAppFactory app) : PlaygroundServiceTests(app), IClassFixture<ProviderPostgresAppFactory>;

public sealed class SqlitePlaygroundServiceTests(ProviderSqliteAppFactory app) : PlaygroundServiceTests(app), IClassFixture<ProviderSqliteAppFactory>;
