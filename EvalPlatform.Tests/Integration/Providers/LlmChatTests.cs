using EvalPlatform.Core.Data;
using EvalPlatform.Core.Providers;
using EvalPlatform.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace EvalPlatform.Tests.Integration.Providers;

/// <summary>
/// <see cref="ILlmChat"/> against the fake OpenAI and Anthropic servers: answers, streams, usage and cost (the team's
/// prices first), refusals with status and Retry-After, dropped streams; every call recorded once.
/// </summary>
public abstract class LlmChatTests(ProviderAppFactory app)
{
    private static readonly LlmMessage[] Hello = [new("user", "Say hello.")];

    private async Task<(TestTeam Team, ResolvedProvider Provider)> ConnectAsync(ProviderKind kind)
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        var (url, key) = kind == ProviderKind.Anthropic ? (app.Anthropic.BaseUrl, FakeAnthropicServer.Key) : (app.OpenAi.BaseUrl, FakeOpenAiServer.Key);
        var connection = await app.AddConnectionAsync(team, kind, $"{kind}", url, key, app.Clock.GetUtcNow());
        await using var scope = app.ScopeFor(team);
        return (team, (await scope.ServiceProvider.GetRequiredService<IProviderConnections>().FindAsync(connection.Id, default))!);
    }

    private async Task<List<ProviderCall>> CallsAsync(TestTeam team)
    {
        await using var scope = app.ScopeFor(team);
        await using var db = await scope.ServiceProvider.GetRequiredService<IEvalDbContextFactory>().CreateAsync();
        return await db.ProviderCalls.AsNoTracking().ToListAsync();
    }

    private async Task<T> AsAsync<T>(TestTeam team, Func<ILlmChat, Task<T>> call)
    {
        await using var scope = app.ScopeFor(team);
        return await call(scope.ServiceProvider.GetRequiredService<ILlmChat>());
    }

    private static async Task<(string Text, LlmChatResult? Final)> ReadAsync(IAsyncEnumerable<LlmChatChunk> stream)
    {
        var text = "";
        LlmChatResult? final = null;
        await foreach (var chunk in stream)
        {
            text += chunk.TextDelta;
            final = chunk.Final ?? final;
        }

        return (text, final);
    }

    [Fact]
    public async Task OpenAi_Complete_AnswersWithUsageAndCost_AndIsRecorded()
    {
        var (team, provider) = await ConnectAsync(ProviderKind.OpenAi);
        app.OpenAi.Next(new FakeReply(Text: "Hello there.", InputTokens: 1_000_000, OutputTokens: 1_000_000));

        var result = await AsAsync(team, chat => chat.CompleteAsync(provider, new LlmChatRequest("gpt-4o-mini", "Be brief.", Hello, Temperature: 0.2, MaxTokens: 50, JsonResponse: true, Source: ProviderCallSource.Evaluator), default));

        Assert.Equal("Hello there.", result.Text);
        Assert.Equal("stop", result.FinishReason);
        Assert.Equal(1_000_000, result.InputTokens);
        Assert.Equal(0.75m, result.Cost); // gpt-4o-mini: 0.15 + 0.60 per million
        var sent = app.OpenAi.Requests[^1];
        Assert.Equal($"Bearer {FakeOpenAiServer.Key}", sent.Headers["Authorization"]);
        Assert.Equal("/v1/chat/completions", sent.Path);
        Assert.Equal("system", sent.Json.GetProperty("messages")[0].GetProperty("role").GetString());
        Assert.Equal(50, sent.Json.GetProperty("max_completion_tokens").GetInt32());
        Assert.Equal("json_object", sent.Json.GetProperty("response_format").GetProperty("type").GetString());

        var call = Assert.Single(await CallsAsync(team));
        Assert.Equal(provider.ConnectionId, call.ConnectionId);
        Assert.Equal(ProviderCallSource.Evaluator, call.Source);
        Assert.Equal(0.75m, call.Cost);
        Assert.Equal(200, call.Status);
        Assert.False(call.IsError);
        Assert.True(call.LatencyMs > 0);
    }

    [Fact]
    public async Task Cost_UsesTheTeamsOwnPrice_WhereSet()
    {
        var (team, provider) = await ConnectAsync(ProviderKind.OpenAi);
        await using (var scope = app.ScopeFor(team))
        {
            await using var db = await scope.ServiceProvider.GetRequiredService<IEvalDbContextFactory>().CreateAsync();
            db.ProviderModelPrices.Add(new ProviderModelPrice { Id = Guid.NewGuid(), TeamId = team.Id, ModelPrefix = "gpt-4o-mini", InputPerMillion = 1m, OutputPerMillion = 2m, UpdatedAt = app.Clock.GetUtcNow() });
            await db.SaveChangesAsync();
        }

        app.OpenAi.Next(new FakeReply(Text: "x", InputTokens: 1_000_000, OutputTokens: 1_000_000));
        var result = await AsAsync(team, chat => chat.CompleteAsync(provider, new LlmChatRequest("gpt-4o-mini-2024-07-18", null, Hello), default));
        Assert.Equal(3m, result.Cost);
    }

    [Fact]
    public async Task OpenAiCompatible_Streams_WithTimeToFirstToken_AndUsageFromTheLastChunk()
    {
        var (team, provider) = await ConnectAsync(ProviderKind.OpenAiCompatible);
        app.OpenAi.Next(new FakeReply(Text: "one two three four", ChunkDelay: TimeSpan.FromMilliseconds(30)));

        var (text, final) = await AsAsync(team, chat => ReadAsync(chat.StreamAsync(provider, new LlmChatRequest("llama-3", null, Hello, MaxTokens: 20), default)));

        Assert.Equal("one two three four", text);
        Assert.Equal("one two three four", final!.Text);
        Assert.Equal(4, final.OutputTokens);
        Assert.Null(final.Cost); // no price for llama-3: no guessed cost
        Assert.NotNull(final.TimeToFirstToken);
        Assert.True(final.Latency > final.TimeToFirstToken);
        var sent = app.OpenAi.Requests[^1].Json;
        Assert.True(sent.GetProperty("stream").GetBoolean());
        Assert.True(sent.GetProperty("stream_options").GetProperty("include_usage").GetBoolean());
        Assert.Equal(20, sent.GetProperty("max_tokens").GetInt32());
        var call = Assert.Single(await CallsAsync(team));
        Assert.NotNull(call.TimeToFirstTokenMs);
    }

    [Fact]
    public async Task OpenAi_RateLimited_IsAnLlmCallExceptionWithRetryAfter_AndRecordedAsAnError()
    {
        var (team, provider) = await ConnectAsync(ProviderKind.OpenAi);
        app.OpenAi.NextError(429, retryAfter: "7", message: "Slow down.");

        var e = await Assert.ThrowsAsync<LlmCallException>(() => AsAsync(team, chat => chat.CompleteAsync(provider, new LlmChatRequest("gpt-4o", null, Hello), default)));
        Assert.Equal(429, e.Status);
        Assert.Equal(TimeSpan.FromSeconds(7), e.RetryAfter);
        Assert.Contains("Slow down.", e.Message, StringComparison.Ordinal);
        var call = Assert.Single(await CallsAsync(team));
        Assert.True(call.IsError);
        Assert.Equal(429, call.Status);
    }

    [Fact]
    public async Task OpenAi_DroppedStream_FailsAndIsRecordedOnce()
    {
        var (team, provider) = await ConnectAsync(ProviderKind.OpenAi);
        app.OpenAi.Next(new FakeReply(Text: "a b c d e f", DropAfterChunks: 2));

        await Assert.ThrowsAsync<LlmCallException>(() => AsAsync(team, chat => ReadAsync(chat.StreamAsync(provider, new LlmChatRequest("gpt-4o", null, Hello), default))));
        var call = Assert.Single(await CallsAsync(team));
        Assert.True(call.IsError);
    }

    [Fact]
    public async Task Anthropic_CompleteAndStream_AnswerWithUsageAndCost()
    {
        var (team, provider) = await ConnectAsync(ProviderKind.Anthropic);
        app.Anthropic.Next(new FakeReply(Text: "Hi from Claude.", InputTokens: 1_000_000, OutputTokens: 1_000_000));
        var result = await AsAsync(team, chat => chat.CompleteAsync(provider, new LlmChatRequest("claude-sonnet-4-20250514", "Be kind.", Hello, Temperature: 0.5, JsonResponse: true), default));
        Assert.Equal("Hi from Claude.", result.Text);
        Assert.Equal("end_turn", result.FinishReason);
        Assert.Equal(18m, result.Cost); // claude-sonnet-4: 3 + 15 per million
        var sent = app.Anthropic.Requests[^1];
        Assert.Equal($"Bearer {FakeAnthropicServer.Key}", sent.Headers["Authorization"]); // the package's way of sending an API key
        Assert.Equal("/v1/messages", sent.Path);
        Assert.Equal(0.5, sent.Json.GetProperty("temperature").GetDouble());
        Assert.Equal(1024, sent.Json.GetProperty("max_tokens").GetInt32());
        Assert.StartsWith("Be kind.", sent.Json.GetProperty("system").GetString(), StringComparison.Ordinal);
        Assert.Contains("JSON", sent.Json.GetProperty("system").GetString(), StringComparison.Ordinal);

        app.Anthropic.Next(new FakeReply(Text: "streamed words here", ChunkDelay: TimeSpan.FromMilliseconds(20)));
        var (text, final) = await AsAsync(team, chat => ReadAsync(chat.StreamAsync(provider, new LlmChatRequest("claude-sonnet-4-20250514", null, Hello), default)));
        Assert.Equal("streamed words here", text);
        Assert.Equal(10, final!.InputTokens);
        Assert.Equal(3, final.OutputTokens);
        Assert.NotNull(final.TimeToFirstToken);
        Assert.Equal(2, (await CallsAsync(team)).Count(c => !c.IsError));
    }

    [Fact]
    public async Task Anthropic_Refusals_CarryStatusMessageAndRetryAfter()
    {
        var (team, provider) = await ConnectAsync(ProviderKind.Anthropic);
        app.Anthropic.NextError(429, retryAfter: "12");
        var limited = await Assert.ThrowsAsync<LlmCallException>(() => AsAsync(team, chat => chat.CompleteAsync(provider, new LlmChatRequest("claude-sonnet-4-20250514", null, Hello), default)));
        Assert.Equal(429, limited.Status);
        Assert.Equal(TimeSpan.FromSeconds(12), limited.RetryAfter);

        var wrongKey = provider with { ApiKey = "sk-ant-wrong" };
        var unauthorized = await Assert.ThrowsAsync<LlmCallException>(() => AsAsync(team, chat => ReadAsync(chat.StreamAsync(wrongKey, new LlmChatRequest("claude-sonnet-4-20250514", null, Hello), default))));
        Assert.Equal(401, unauthorized.Status);
        Assert.Equal("invalid x-api-key", unauthorized.Message);
        Assert.Equal(2, (await CallsAsync(team)).Count(c => c.IsError));
    }

    [Fact]
    public async Task Models_AreListedFromEachProvider_AndAWrongKeyIsRefused()
    {
        var (team, openAi) = await ConnectAsync(ProviderKind.OpenAi);
        var (_, anthropic) = await ConnectAsync(ProviderKind.Anthropic);
        await using var scope = app.ScopeFor(team);
        var models = scope.ServiceProvider.GetRequiredService<IProviderModels>();
        Assert.Contains("gpt-4o-mini", await models.ListAsync(openAi, default));
        Assert.Contains("claude-sonnet-4-20250514", await models.ListAsync(anthropic, default));
        var refused = await Assert.ThrowsAsync<LlmCallException>(() => models.ListAsync(openAi with { ApiKey = "sk-wrong" }, default));
        Assert.Equal(401, refused.Status);
    }
}

public sealed class PostgresLlmChatTests(ProviderPostgresAppFactory app) : LlmChatTests(app), IClassFixture<ProviderPostgresAppFactory>;

public sealed class SqliteLlmChatTests(ProviderSqliteAppFactory app) : LlmChatTests(app), IClassFixture<ProviderSqliteAppFactory>;
