using System.Collections;
using System.Reflection;
using EvalPlatform.Core.Common;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Ingestion;
using EvalPlatform.Core.Traces;
using EvalPlatform.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace EvalPlatform.Tests.Integration.Traces;

/// <summary>
/// The group-commit store writes every column as it is (binary COPY on PostgreSQL, compiled per column
/// from the EF model; EF inserts on SQLite): each property set, then each nullable one left null.
/// </summary>
public abstract class TraceStoreTests(EvalAppFactory app)
{
    // 123.4 ms: exact in PostgreSQL (microseconds) and in SQLite's DateTimeOffset converter (100 µs steps).
    private static readonly DateTimeOffset T0 = new DateTimeOffset(2026, 11, 27, 9, 30, 15, TimeSpan.Zero).AddTicks(1_234_000);

    protected EvalAppFactory App => app;

    [Fact]
    public async Task EveryColumn_IsStoredAsWritten_SetOrNull()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        var full = Full(team.Id);
        var bare = Bare(team.Id);

        var results = await StoreAsync(new StoreRequest(team.Id, [new ParsedTrace(full, 0), new ParsedTrace(bare, 1)]));

        Assert.All(results.Single().Traces, t => Assert.True(t.Created));
        await using var scope = app.Services.CreateAsyncScope();
        await using var db = await scope.ServiceProvider.GetRequiredService<IEvalDbContextFactory>().CreateAsync();
        foreach (var written in new[] { full, bare })
        {
            var read = await db.Traces.IgnoreQueryFilters().AsNoTracking().SingleAsync(t => t.Id == written.Id);
            AssertSameColumns(written, read);
            var spans = await db.Spans.IgnoreQueryFilters().AsNoTracking().Where(s => s.TraceId == written.Id).OrderBy(s => s.Position).ToListAsync();
            Assert.Equal(written.Spans.Count, spans.Count);
            for (var i = 0; i < spans.Count; i++)
            {
                AssertSameColumns(written.Spans[i], spans[i]);
            }
        }
    }

    [Fact]
    public async Task AConflictingTrace_IsRefusedAlone_TheRestOfItsRequestIsStored()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        await StoreAsync(new StoreRequest(team.Id, [new ParsedTrace(Bare(team.Id, "taken", hash: 1), 0)]));

        var result = (await StoreAsync(new StoreRequest(team.Id,
            [new ParsedTrace(Bare(team.Id, "taken", hash: 2), 0), new ParsedTrace(Bare(team.Id, "free", hash: 3), 1)])))[0];

        var refused = Assert.Single(result.Refused);
        Assert.Equal((0, true), (refused.Index, refused.IsConflict));
        var stored = Assert.Single(result.Traces);
        Assert.Equal((1, true), (stored.Index, stored.Created));
    }

    protected async Task<IReadOnlyList<StoreResult>> StoreAsync(params StoreRequest[] requests)
    {
        await using var scope = app.Services.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<ITraceStore>().StoreAsync(requests);
    }

    protected async Task<int> CountAsync(Guid teamId)
    {
        await using var scope = app.Services.CreateAsyncScope();
        await using var db = await scope.ServiceProvider.GetRequiredService<IEvalDbContextFactory>().CreateAsync();
        return await db.Traces.IgnoreQueryFilters().CountAsync(t => t.TeamId == teamId);
    }

    protected static Trace Bare(Guid teamId, string externalId, byte hash, string? name = null)
    {
        var trace = Bare(teamId);
        trace.ExternalId = externalId;
        trace.ContentHash = [hash];
        trace.Name = name;
        return trace;
    }

    private static Trace Full(Guid teamId)
    {
        var id = Uuid7.Create(T0);
        var trace = new Trace
        {
            Id = id, TeamId = teamId, ExternalId = "store-" + id, ContentHash = [1, 2, 3, 250], SortKey = Trace.MakeSortKey(T0, id),
            Name = "näme ✓", SessionId = "s", UserId = "u", Environment = "prod", Release = "1.2", Tags = ["a", "b c", "ü"],
            Model = "gpt-4o", Provider = "openai", PromptTokens = 10, CompletionTokens = 20, TotalTokens = 30, Cost = -12345.12345678m,
            CostComputed = true, LatencyMs = 1.5, TimeToFirstTokenMs = 0.25, Error = "boom", Experiment = "exp", Variant = "B",
            Metadata = """{"k":"v"}""", InputPreview = "in", OutputPreview = "out", SearchText = "in out",
            ReviewStatus = ReviewStatus.NeedsReview, ReviewReason = "reason", ReviewDetail = "detail", HumanScore = 0.75, ReviewNote = "note",
            ReviewedBy = "someone", ReviewedAt = T0.AddMinutes(5), ReviewVersion = 3,
            StartedAt = T0, EndedAt = T0.AddSeconds(2), CreatedAt = T0, UpdatedAt = T0.AddSeconds(1),
        };
        trace.Spans.Add(new Span
        {
            Id = Uuid7.Create(T0), TeamId = teamId, TraceId = id, ParentSpanId = null, ExternalId = "span-ext", Kind = SpanKind.Retrieval,
            Name = "root", Position = 0, StartedAt = T0, EndedAt = T0.AddSeconds(1), DurationMs = 1000, Input = "[1]", Output = "{}",
            Attributes = """{"a":1}""", Error = "e", Model = "m", ParentExternalId = "p", Provider = "anthropic", PromptTokens = 1,
            CompletionTokens = 2, Cost = 0.00000001m, Placeholder = true,
        });
        trace.Spans.Add(new Span { Id = Uuid7.Create(T0), TeamId = teamId, TraceId = id, ParentSpanId = trace.Spans[0].Id, Kind = SpanKind.Tool, Name = "child", Position = 1, StartedAt = T0 });
        return trace;
    }

    private static Trace Bare(Guid teamId)
    {
        var id = Uuid7.Create(T0);
        return new Trace { Id = id, TeamId = teamId, ContentHash = [], SortKey = Trace.MakeSortKey(T0, id), StartedAt = T0, CreatedAt = T0, UpdatedAt = T0 };
    }

    // Every stored property (all public read-write ones but the in-memory span list) reads back equal.
    private static void AssertSameColumns<T>(T written, T read)
    {
        foreach (var property in typeof(T).GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p is { CanRead: true, CanWrite: true }))
        {
            if (property.PropertyType == typeof(List<Span>))
            {
                continue;
            }

            var expected = property.GetValue(written);
            var actual = property.GetValue(read);
            if (expected is IEnumerable sequence and not string)
            {
                Assert.Equal(sequence.Cast<object>(), ((IEnumerable)actual!).Cast<object>());
            }
            else
            {
                Assert.True(Equals(expected, actual), $"{typeof(T).Name}.{property.Name}: wrote {expected ?? "null"}, read {actual ?? "null"}");
            }
        }
    }
}

public sealed class TraceStorePostgresTests(PostgresAppFactory app) : TraceStoreTests(app), IClassFixture<PostgresAppFactory>
{
    /// <summary>
    /// A group holds two teams' requests; PostgreSQL refuses team A's trace with a NUL in its name (22021). Nothing
    /// of the group was committed by that failure, so the store writes each request alone, then team A's traces
    /// one by one: only the bad trace is refused, with the database's reason.
    /// </summary>
    [Fact]
    public async Task ATraceTheDatabaseRefuses_CostsNeitherItsRequest_NorAnotherTeamsRequestInTheGroup()
    {
        var teamA = await TestData.CreateTeamAsync(App.Services);
        var teamB = await TestData.CreateTeamAsync(App.Services);

        var results = await StoreAsync(
            new StoreRequest(teamA.Id, [new ParsedTrace(Bare(teamA.Id, "a-1", 1), 0), new ParsedTrace(Bare(teamA.Id, "a-nul", 2, name: "bad\0name"), 1), new ParsedTrace(Bare(teamA.Id, "a-2", 3), 2)]),
            new StoreRequest(teamB.Id, [new ParsedTrace(Bare(teamB.Id, "b-1", 4), 0)]));

        Assert.Equal([0, 2], results[0].Traces.Select(t => t.Index));
        var refused = Assert.Single(results[0].Refused);
        Assert.Equal((1, false), (refused.Index, refused.IsConflict));
        Assert.Contains("22021", refused.Message, StringComparison.Ordinal);
        Assert.True(Assert.Single(results[1].Traces).Created);
        Assert.Empty(results[1].Refused);
        Assert.Equal(2, await CountAsync(teamA.Id));
        Assert.Equal(1, await CountAsync(teamB.Id));
    }
}

public sealed class TraceStoreSqliteTests(SqliteAppFactory app) : TraceStoreTests(app), IClassFixture<SqliteAppFactory>;
