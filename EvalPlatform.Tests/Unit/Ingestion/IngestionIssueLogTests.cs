using EvalPlatform.Core.Ingestion;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace EvalPlatform.Tests.Unit.Ingestion;

/// <summary>The in-memory half of the issue log (buffer, folding) and the log's flush, purge and failure paths, without a database.</summary>
public sealed class IngestionIssueLogTests
{
    private static readonly DateTimeOffset Now = new(2026, 9, 1, 10, 15, 30, TimeSpan.Zero);
    private static readonly Guid TeamA = Guid.NewGuid();
    private static readonly Guid TeamB = Guid.NewGuid();

    private static IngestionIssueReport EndTime(string span = "run-1", string trace = "trace-1") =>
        new(IngestionIssueKind.Refused, "end_time", "end_time is 5 s before start_time.", trace, span);

    /// <summary>A store in memory that can be made to fail or held shut.</summary>
    private sealed class FakeStore : IIngestionIssueStore
    {
        public List<BufferedIssue> Rows { get; } = [];
        public int FailuresLeft { get; set; }
        public TaskCompletionSource? Gate { get; set; }
        public TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public DateTimeOffset? PurgedBefore { get; private set; }

        public Task<int> CountRowsAsync(Guid teamId, DateTimeOffset hour, CancellationToken ct = default) =>
            Task.FromResult(Rows.Count(r => r.TeamId == teamId && r.Hour == hour));

        public Task<IReadOnlySet<string>> FindGroupKeysAsync(Guid teamId, DateTimeOffset hour, IReadOnlyCollection<string> groupKeys, CancellationToken ct = default) =>
            Task.FromResult<IReadOnlySet<string>>(Rows.Where(r => r.TeamId == teamId && r.Hour == hour && groupKeys.Contains(r.GroupKey)).Select(r => r.GroupKey).ToHashSet());

        public async Task UpsertAsync(IReadOnlyList<BufferedIssue> rows, CancellationToken ct = default)
        {
            Entered.TrySetResult();
            if (Gate is { } gate)
            {
                await gate.Task;
            }

            if (FailuresLeft > 0)
            {
                FailuresLeft--;
                throw new TimeoutException("the database is away");
            }

            foreach (var row in rows)
            {
                var existing = Rows.SingleOrDefault(r => r.TeamId == row.TeamId && r.Hour == row.Hour && r.GroupKey == row.GroupKey);
                if (existing is null)
                {
                    Rows.Add(row.Copy());
                }
                else
                {
                    existing.Count += row.Count;
                    existing.LastSeenAt = row.LastSeenAt > existing.LastSeenAt ? row.LastSeenAt : existing.LastSeenAt;
                }
            }
        }

        public Task<int> DeleteLastSeenBeforeAsync(DateTimeOffset cutoff, CancellationToken ct = default)
        {
            PurgedBefore = cutoff;
            return Task.FromResult(Rows.RemoveAll(r => r.LastSeenAt < cutoff));
        }
    }

    private static (IngestionIssueLog Log, FakeStore Store, FakeTimeProvider Clock) BuildLog()
    {
        var store = new FakeStore();
        var clock = new FakeTimeProvider(Now);
        var services = new ServiceCollection().AddSingleton<IIngestionIssueStore>(store).BuildServiceProvider();
        return (new IngestionIssueLog(services.GetRequiredService<IServiceScopeFactory>(), clock, NullLogger<IngestionIssueLog>.Instance), store, clock);
    }

    [Fact]
    public void Record_TheSameIssue_IsOneEntryWithItsCount_AndFirstAndLastSeen()
    {
        var buffer = new IngestionIssueBuffer();

        buffer.Record(TeamA, IngestionDoor.LangSmith, [EndTime(), EndTime()], Now);
        buffer.Record(TeamA, IngestionDoor.LangSmith, [EndTime()], Now.AddMinutes(10));

        var entry = Assert.Single(buffer.TakeAll());
        Assert.Equal(3, entry.Count);
        Assert.Equal(Now, entry.FirstSeenAt);
        Assert.Equal(Now.AddMinutes(10), entry.LastSeenAt);
        Assert.Equal(new DateTimeOffset(2026, 9, 1, 10, 0, 0, TimeSpan.Zero), entry.Hour);
        Assert.Equal(("trace-1", "run-1", "end_time"), (entry.TraceKey, entry.SpanKey, entry.Field));
        Assert.Equal(0, buffer.Count);
    }

    [Fact]
    public void Record_IssuesDifferingInAnyPart_OrInTheirHour_AreSeparateEntries()
    {
        var buffer = new IngestionIssueBuffer();

        buffer.Record(TeamA, IngestionDoor.LangSmith, [EndTime(), EndTime(span: "run-2"), EndTime(trace: "trace-2"), EndTime() with { Field = "start_time" },
            EndTime() with { Reason = "another reason" }, EndTime() with { Kind = IngestionIssueKind.Adjusted }], Now);
        buffer.Record(TeamA, IngestionDoor.Otlp, [EndTime()], Now);
        buffer.Record(TeamA, IngestionDoor.LangSmith, [EndTime()], Now.AddHours(1));

        var entries = buffer.TakeAll();
        Assert.Equal(8, entries.Count);
        Assert.All(entries, e => Assert.Equal(1, e.Count));
        // The next hour's row has the same group key as the first: the key is unique within a team and hour only.
        Assert.Equal(7, entries.Select(e => e.GroupKey).Distinct().Count());
    }

    [Fact]
    public void Record_KeepsTeamsApart()
    {
        var buffer = new IngestionIssueBuffer();

        buffer.Record(TeamA, IngestionDoor.Batch, [EndTime(), EndTime()], Now);
        buffer.Record(TeamB, IngestionDoor.Batch, [EndTime()], Now);

        var entries = buffer.TakeAll();
        Assert.Equal(2, entries.Count);
        Assert.Equal(2, Assert.Single(entries, e => e.TeamId == TeamA).Count);
        Assert.Equal(1, Assert.Single(entries, e => e.TeamId == TeamB).Count);
    }

    [Fact]
    public void Record_PastTheBuffersCapacity_DropsAndCountsNewIssues_ButStillCountsKnownOnes()
    {
        var buffer = new IngestionIssueBuffer(maxEntries: 3);

        buffer.Record(TeamA, IngestionDoor.Api, Enumerable.Range(0, 5).Select(i => EndTime(span: $"run-{i}")).ToList(), Now);
        buffer.Record(TeamA, IngestionDoor.Api, [EndTime(span: "run-0")], Now);
        buffer.Record(TeamB, IngestionDoor.Api, [EndTime()], Now);

        Assert.Equal(3, buffer.Count);
        Assert.Equal(3, buffer.Dropped); // two of team A's, team B's one
        Assert.Equal(3, buffer.TakeDropped());
        Assert.Equal(0, buffer.Dropped);
        var entries = buffer.TakeAll();
        Assert.Equal(2, Assert.Single(entries, e => e.SpanKey == "run-0").Count);
        Assert.Equal(4, entries.Sum(e => e.Count));
    }

    [Fact]
    public void Record_PastATeamsRowsForTheHour_FoldsIntoTheSameIssueWithoutIds_ThenACatchAll_OtherTeamsUnaffected()
    {
        var buffer = new IngestionIssueBuffer(maxRowsPerTeamHour: 2);
        var withoutIds = EndTime() with { TraceKey = null, SpanKey = null };

        buffer.Record(TeamA, IngestionDoor.Otlp, [EndTime(span: "a"), withoutIds], Now);
        buffer.Record(TeamA, IngestionDoor.Otlp, [EndTime(span: "b"), EndTime(span: "c"), EndTime(span: "d") with { Field = "status" }], Now);
        buffer.Record(TeamB, IngestionDoor.Otlp, [EndTime(span: "a"), EndTime(span: "b")], Now);

        var entries = buffer.TakeAll();
        var teamA = entries.Where(e => e.TeamId == TeamA).ToList();
        Assert.Equal(3, teamA.Count); // the cap plus one catch-all per door and kind
        Assert.Equal(1, Assert.Single(teamA, e => e.SpanKey == "a").Count);
        // b and c are the same issue as the row without ids; d is another issue, counted in the catch-all.
        Assert.Equal(3, Assert.Single(teamA, e => e.SpanKey is null && e.Field == "end_time").Count);
        var catchAll = Assert.Single(teamA, e => e.IsCatchAll);
        Assert.Equal((1, IngestionIssueBuffer.CatchAllReason), (catchAll.Count, catchAll.Reason));
        Assert.Equal(2, entries.Count(e => e.TeamId == TeamB && e.SpanKey is not null));
        Assert.Equal(0, buffer.Dropped);
    }

    [Fact]
    public async Task Record_FromManyThreadsAtOnce_CountsEveryIssue()
    {
        var buffer = new IngestionIssueBuffer();

        await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() =>
        {
            for (var i = 0; i < 500; i++)
            {
                buffer.Record(TeamA, IngestionDoor.Batch, [EndTime(), EndTime(span: $"run-{i % 10}")], Now);
            }
        })));

        var entries = buffer.TakeAll();
        Assert.Equal(8 * 500 * 2, entries.Sum(e => e.Count));
        Assert.Equal(8 * 500 + (8 * 50), Assert.Single(entries, e => e.SpanKey == "run-1").Count);
    }

    [Fact]
    public void Record_CutsLongValues_BlankOnesGetAPlaceholder_AndTimesAreWholeMicroseconds()
    {
        var buffer = new IngestionIssueBuffer();
        var emoji = "😀";
        var reason = new string('r', IngestionIssueLimits.MaxReason - 2) + emoji + "tail";

        buffer.Record(TeamA, IngestionDoor.Api, [new(IngestionIssueKind.Refused, new string('f', 500), reason, new string('t', 5_000), "")], Now.AddTicks(7));
        buffer.Record(TeamA, IngestionDoor.Api, [new(IngestionIssueKind.Refused, " ", "", null, null)], Now);

        var entries = buffer.TakeAll();
        var cut = Assert.Single(entries, e => e.TraceKey is not null);
        Assert.Equal(IngestionIssueLimits.MaxField, cut.Field.Length);
        Assert.EndsWith("…", cut.Field, StringComparison.Ordinal);
        // The pair is not split: the cut ends before it.
        Assert.Equal(new string('r', IngestionIssueLimits.MaxReason - 2) + "…", cut.Reason);
        Assert.Equal(IngestionLimits.MaxShortText, cut.TraceKey!.Length);
        Assert.Null(cut.SpanKey);
        Assert.Equal(Now, cut.FirstSeenAt);
        var blank = Assert.Single(entries, e => e.TraceKey is null);
        Assert.Equal(("(none)", "(no reason given)"), (blank.Field, blank.Reason));
    }

    [Fact]
    public void Fold_KnownRowsKeepTheirCounts_NewOnesFoldPastTheCap_TheMostFrequentFirst()
    {
        var buffer = new IngestionIssueBuffer();
        buffer.Record(TeamA, IngestionDoor.Batch, [EndTime(span: "known")], Now);
        buffer.Record(TeamA, IngestionDoor.Batch, [EndTime(span: "often"), EndTime(span: "often"), EndTime(span: "rare")], Now);
        var entries = buffer.TakeAll();
        var known = entries.Single(e => e.SpanKey == "known").GroupKey;

        var rows = IngestionIssueLog.Fold(entries, existingRows: 9, existingKeys: new HashSet<string> { known }, cap: 10);

        Assert.Equal(3, rows.Count);
        Assert.Contains(rows, r => r.SpanKey == "known");
        Assert.Equal(2, Assert.Single(rows, r => r.SpanKey == "often").Count);
        Assert.Equal(1, Assert.Single(rows, r => r.SpanKey is null).Count);
        Assert.Equal(4, rows.Sum(r => r.Count));
    }

    [Fact]
    public async Task Log_Record_NeverThrows_AndNeverWaitsForAFlushInProgress()
    {
        var (log, store, _) = BuildLog();
        log.Record(TeamA, IngestionDoor.LangSmith, [EndTime()]);
        log.Record(TeamA, IngestionDoor.LangSmith, null!);
        log.Record(TeamA, IngestionDoor.LangSmith, [null!, EndTime()]);
        store.Gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        var flushing = log.FlushAsync();
        await store.Entered.Task.WaitAsync(TimeSpan.FromSeconds(10));
        // The database is held shut mid-flush: recording still returns at once, into the emptied buffer.
        var recording = Task.Run(() => log.Record(TeamA, IngestionDoor.LangSmith, [EndTime(span: "run-2")]));
        await recording.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.False(flushing.IsCompleted);
        store.Gate.SetResult();
        await flushing;
        store.Gate = null;
        await log.FlushAsync();

        Assert.Equal(2, Assert.Single(store.Rows, r => r.SpanKey == "run-1").Count);
        Assert.Equal(1, Assert.Single(store.Rows, r => r.SpanKey == "run-2").Count);
    }

    [Fact]
    public async Task Log_AFailedFlush_KeepsItsCounts_MergedWithLaterOnes_ForTheNextFlush()
    {
        var (log, store, _) = BuildLog();
        log.Record(TeamA, IngestionDoor.Otlp, [EndTime()]);
        store.FailuresLeft = 1;

        Assert.False(await log.TryFlushAsync());
        Assert.Empty(store.Rows);
        log.Record(TeamA, IngestionDoor.Otlp, [EndTime()]);
        Assert.True(await log.TryFlushAsync());

        Assert.Equal(2, Assert.Single(store.Rows).Count);
    }

    [Fact]
    public async Task Log_Purge_DeletesRowsLastSeenMoreThanSevenDaysAgo_ByTheInjectedClock()
    {
        var (log, store, clock) = BuildLog();
        log.Record(TeamA, IngestionDoor.Batch, [EndTime(span: "old")]);
        await log.FlushAsync();
        clock.Advance(TimeSpan.FromDays(6));
        log.Record(TeamA, IngestionDoor.Batch, [EndTime(span: "recent")]);
        await log.FlushAsync();

        clock.Advance(TimeSpan.FromDays(1) + TimeSpan.FromSeconds(1));
        Assert.Equal(1, await log.PurgeAsync());

        Assert.Equal(clock.GetUtcNow() - TimeSpan.FromDays(7), store.PurgedBefore);
        Assert.Equal("recent", Assert.Single(store.Rows).SpanKey);
    }
}
