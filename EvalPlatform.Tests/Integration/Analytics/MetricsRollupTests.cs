using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using EvalPlatform.Core.Analytics;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Reviews;
using EvalPlatform.Core.Scores;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Core.Traces;
using EvalPlatform.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace EvalPlatform.Tests.Integration.Analytics;

/// <summary>
/// The rollup and the reader on each database, on a clock the test moves: after a run, every figure equals an exact
/// recomputation from the raw rows (percentiles within 1 % of the nearest-rank value); late traces, reviews and scores
/// count after the next run; a second run changes nothing; a trace stored after the run counts at once; teams never mix.
/// </summary>
public abstract class MetricsRollupTests(ClockedAppFactory app)
{
    private static readonly string?[] Models = ["gpt-4o", "claude-sonnet", "llama-3", null];
    private static readonly string?[] Environments = ["production", "staging", null];
    private static readonly string[] Reasons = ["hallucination", "off_topic", "incorrect_tool_call"];

    private static readonly Metric[] Checked =
    [
        Metric.Traces, Metric.Errors, Metric.ErrorRate, Metric.LatencyP50, Metric.LatencyP95, Metric.LatencyP99, Metric.TimeToFirstTokenP50,
        Metric.PromptTokens, Metric.Cost, Metric.Accepted, Metric.Rejected, Metric.NeedsReview, Metric.AcceptanceRate, Metric.HumanScore,
    ];

    [Fact]
    public async Task AfterARun_SummaryAndSeries_EqualAnExactRecomputation_PerTeam()
    {
        var now = app.Clock.GetUtcNow();
        var a = await TestData.CreateTeamAsync(app.Services);
        var b = await TestData.CreateTeamAsync(app.Services);
        // Team a scores 0 to 1 (any number: the distribution bins to the hundredth, alike in SQL and in the app);
        // team b good or bad (a decision scores 1 or 0).
        await SetScaleAsync(a, ScoreScale.ZeroToOne);
        await SeedAsync(a, new Random(11), 500, now - TimeSpan.FromDays(3), now, humanScore: r => r.Next(4) == 0 ? r.Next(3) * 0.5 : Math.Round(r.NextDouble(), 4));
        await SeedAsync(b, new Random(12), 250, now - TimeSpan.FromDays(3), now);
        app.Clock.Advance(TimeSpan.FromMinutes(2));

        var run = await RollUpAsync();

        Assert.Equal(0, run.HoursFailed);
        Assert.True(run.TracesRead >= 750, $"read {run.TracesRead}");
        // A range on no bucket boundary, so days, hours and minutes all take part; and one ending at the live edge.
        var from = MetricInterval.Minute.Floor(now - TimeSpan.FromDays(2) - TimeSpan.FromMinutes(437));
        foreach (var team in new[] { a, b })
        {
            await AssertExactAsync(team, new AnalyticsFilter(from, app.Clock.GetUtcNow() + TimeSpan.FromMinutes(1)));
            await AssertExactAsync(team, new AnalyticsFilter(from, from + TimeSpan.FromHours(30), Model: "gpt-4o"));
            await AssertExactAsync(team, new AnalyticsFilter(from, from + TimeSpan.FromHours(30), Environment: "production", Tag: "beta"));
            await AssertSeriesExactAsync(team, new AnalyticsQuery(new AnalyticsFilter(from, from + TimeSpan.FromHours(50)), MetricInterval.Hour, AnalyticsDimension.Model));
            await AssertSeriesExactAsync(team, new AnalyticsQuery(new AnalyticsFilter(from, from + TimeSpan.FromHours(3)), MetricInterval.Minute, AnalyticsDimension.Environment));
            await AssertSeriesExactAsync(team, new AnalyticsQuery(new AnalyticsFilter(from, now + TimeSpan.FromHours(1)), MetricInterval.Day));
            await AssertSeriesExactAsync(team, new AnalyticsQuery(new AnalyticsFilter(from, now + TimeSpan.FromHours(1)), MetricInterval.Day, AnalyticsDimension.Tag));
            await AssertSeriesExactAsync(team, new AnalyticsQuery(new AnalyticsFilter(from, now + TimeSpan.FromHours(1)), MetricInterval.Day, AnalyticsDimension.Metadata, "region"));
            await AssertSeriesExactAsync(team, new AnalyticsQuery(new AnalyticsFilter(from, now + TimeSpan.FromHours(1)), MetricInterval.Hour, AnalyticsDimension.UserId));
            // Stacked: two rollup dimensions (rollups and the live edge), and one read from the traces (a trace under each tag).
            await AssertSeriesExactAsync(team, new AnalyticsQuery(new AnalyticsFilter(from, now + TimeSpan.FromHours(1)), MetricInterval.Hour, AnalyticsDimension.Model, StackBy: AnalyticsDimension.Environment));
            await AssertSeriesExactAsync(team, new AnalyticsQuery(new AnalyticsFilter(from, now + TimeSpan.FromHours(1)), MetricInterval.Day, AnalyticsDimension.Environment, StackBy: AnalyticsDimension.Tag));
            await AssertSeriesExactAsync(team, new AnalyticsQuery(new AnalyticsFilter(from, now + TimeSpan.FromHours(1)), MetricInterval.Day, AnalyticsDimension.Metadata, "region", AnalyticsDimension.Variant));
        }

        // The rollup never mixes teams: each team's rows add up to its own traces only.
        Assert.Equal(500, await RolledTracesAsync(a.Id));
        Assert.Equal(250, await RolledTracesAsync(b.Id));
    }

    [Fact]
    public async Task TopGroups_OfUsersTagsAndMetadata_EqualTheExactTopGroupsAndTheirRest()
    {
        var now = app.Clock.GetUtcNow();
        var team = await TestData.CreateTeamAsync(app.Services);
        var other = await TestData.CreateTeamAsync(app.Services);
        await SeedAsync(team, new Random(21), 600, now - TimeSpan.FromDays(2), now, users: 40);
        await SeedAsync(other, new Random(22), 100, now - TimeSpan.FromDays(2), now, users: 40);
        app.Clock.Advance(TimeSpan.FromMinutes(2));
        await RollUpAsync();

        var from = MetricInterval.Minute.Floor(now - TimeSpan.FromHours(31) - TimeSpan.FromMinutes(17));
        var filter = new AnalyticsFilter(from, app.Clock.GetUtcNow() + TimeSpan.FromMinutes(1));
        var (traces, scores) = await RawAsync(team);
        foreach (var (by, key, top) in new (AnalyticsDimension, string?, int)[]
        {
            (AnalyticsDimension.UserId, null, 5), (AnalyticsDimension.UserId, null, 1), (AnalyticsDimension.UserId, null, 50),
            (AnalyticsDimension.Tag, null, 1), (AnalyticsDimension.Metadata, "shard", 2),
        })
        {
            var query = new AnalyticsQuery(filter, MetricInterval.Hour, by, key);
            var inRange = traces.Where(t => t.StartedAt >= filter.From && t.StartedAt < MetricInterval.Minute.Floor(filter.To)).ToList();
            // The exact answer: every trace under each of its groups, the top groups by traces (ties by name, none first), the rest merged.
            var groups = inRange.SelectMany(t => GroupsOf(t, query.GroupBy, query.MetadataKey).Select(g => (Group: g, Trace: t)))
                .GroupBy(x => x.Group, x => x.Trace)
                .OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal)
                .ToList();
            var kept = groups.Take(top).ToDictionary(g => g.Key ?? "\0none", g => g.ToList());
            var rest = groups.Skip(top).SelectMany(g => g).ToList();

            var breakdown = await AsMemberAsync(team, s => s.BreakdownAsync(filter, by, key, top));
            Assert.Equal(kept.Count + (rest.Count > 0 ? 1 : 0), breakdown.Count);
            foreach (var (g, i) in breakdown.Select((g, i) => (g, i)))
            {
                var expected = i < kept.Count ? groups[i].ToList() : rest;
                Assert.Equal(i < kept.Count ? groups[i].Key : AnalyticsService.Others, g.Group);
                AssertAggregate(expected, scores, g.Aggregate, $"breakdown {by} top {top} {g.Group}");
            }

            foreach (var metric in new[] { Metric.Traces, Metric.Cost, Metric.LatencyP95, Metric.AcceptanceRate })
            {
                var series = await AsMemberAsync(team, s => s.TimeSeriesAsync(query, metric, top));
                Assert.Equal(breakdown.Count, series.Series.Count);
                foreach (var s in series.Series)
                {
                    var members = s.Group == AnalyticsService.Others && rest.Count > 0 ? rest : kept[s.Group ?? "\0none"];
                    var buckets = members.GroupBy(t => MetricInterval.Hour.Floor(t.StartedAt)).ToDictionary(b => b.Key, b => b.ToList());
                    Assert.Equal(buckets.Keys.Order(), s.Points.Select(p => p.T));
                    foreach (var point in s.Points)
                    {
                        AssertClose(Exact(buckets[point.T], scores, metric), point.Value, metric, $"series {by} top {top} {s.Group} {point.T:O}");
                    }
                }
            }
        }
    }

    [Fact]
    public async Task ACommitStampedBeforeTheWatermark_IsSeenByTheNextLookBack_WhenRunsComeEverySecond()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        // Past every earlier test's changes, so what the runs below read is this test's alone.
        app.Clock.Advance(TimeSpan.FromMinutes(3));
        var t0 = app.Clock.GetUtcNow();
        await RollUpAsync();
        app.Clock.Advance(TimeSpan.FromSeconds(3));
        await RollUpAsync();

        // A trace from two hours ago whose UpdatedAt was stamped before the last run's watermark, committed only now
        // (a slow writer): a run a second later reads from the watermark on and misses it…
        var started = MetricInterval.Minute.Floor(t0 - TimeSpan.FromHours(2)) + TimeSpan.FromSeconds(7);
        var filter = new AnalyticsFilter(started - TimeSpan.FromHours(1), started + TimeSpan.FromHours(1));
        await using (var scope = app.Services.CreateAsyncScope())
        {
            await using var db = await scope.ServiceProvider.GetRequiredService<IEvalDbContextFactory>().CreateAsync();
            db.AllowCrossTeamWrites(); // a commit arriving outside any request, as the ingestion group commit makes it
            var id = Guid.NewGuid();
            db.Traces.Add(new Trace
            {
                Id = id, TeamId = team.Id, ContentHash = id.ToByteArray(), SortKey = Trace.MakeSortKey(t0, id), Name = "late commit",
                Model = "gpt-4o", LatencyMs = 812, Cost = 0.25m, StartedAt = started, CreatedAt = t0 + TimeSpan.FromSeconds(1), UpdatedAt = t0 + TimeSpan.FromSeconds(1),
            });
            await db.SaveChangesAsync();
        }

        app.Clock.Advance(TimeSpan.FromSeconds(1));
        await RollUpAsync();
        Assert.Equal(0, (await SummaryAsync(team, filter)).Traces);

        // …and the next run that looks back over the overlap (at most RollupOverlapScanSeconds after the last) counts it.
        app.Clock.Advance(TimeSpan.FromSeconds(10));
        var run = await RollUpAsync();
        Assert.Equal(1, run.TracesRead);
        var summary = await SummaryAsync(team, filter);
        Assert.Equal(1, summary.Traces);
        Assert.Equal(0.25m, summary.Cost);
    }

    [Fact]
    public async Task LateTraces_Reviews_AndScores_CountAfterTheNextRun()
    {
        var now = app.Clock.GetUtcNow();
        var team = await TestData.CreateTeamAsync(app.Services);
        var ids = await SeedAsync(team, new Random(21), 200, now - TimeSpan.FromDays(2), now);
        app.Clock.Advance(TimeSpan.FromMinutes(2));
        await RollUpAsync();
        var filter = new AnalyticsFilter(now - TimeSpan.FromDays(3), now + TimeSpan.FromDays(9));

        // A trace arriving late, with a start two days back; a review of an old trace; a new score.
        await SeedAsync(team, new Random(22), 3, now - TimeSpan.FromDays(2), now - TimeSpan.FromDays(2) + TimeSpan.FromMinutes(5));
        var pending = await PendingAsync(team);
        await ReviewAsync(team, pending[0], ReviewCommand.Reject("hallucination"));
        await ScoreAsync(team, ids[5], "faithfulness", 0.25);
        app.Clock.Advance(TimeSpan.FromMinutes(1));
        await RollUpAsync();
        await AssertExactAsync(team, filter);

        // A week later the review changes, and another score comes.
        app.Clock.Advance(TimeSpan.FromDays(7));
        await ReviewAsync(team, pending[0], ReviewCommand.Accept());
        await ScoreAsync(team, ids[6], "faithfulness", 0.75);
        var run = await RollUpAsync();
        Assert.Equal(0, run.HoursFailed);
        await AssertExactAsync(team, filter);
    }

    [Fact]
    public async Task RunningTwice_ChangesNothing_AndACatchUpRunAfterHours_CountsOnce()
    {
        var now = app.Clock.GetUtcNow();
        var team = await TestData.CreateTeamAsync(app.Services);
        await SeedAsync(team, new Random(31), 150, now - TimeSpan.FromHours(20), now);
        app.Clock.Advance(TimeSpan.FromMinutes(2));
        await RollUpAsync();
        var before = await RowsAsync(team.Id);

        app.Clock.Advance(TimeSpan.FromMinutes(1));
        await RollUpAsync();
        await RollUpAsync();

        Assert.Equal(before, await RowsAsync(team.Id));
        // The job missed three hours (a node down); the run that catches up counts each trace once.
        await SeedAsync(team, new Random(32), 80, app.Clock.GetUtcNow(), app.Clock.GetUtcNow() + TimeSpan.FromHours(3));
        app.Clock.Advance(TimeSpan.FromHours(3) + TimeSpan.FromMinutes(1));
        await RollUpAsync();
        await AssertExactAsync(team, new AnalyticsFilter(now - TimeSpan.FromDays(1), app.Clock.GetUtcNow()));
        Assert.Equal(230, await RolledTracesAsync(team.Id));
    }

    [Fact]
    public async Task ATraceStoredAfterTheRun_CountsAtOnce_WithoutARun()
    {
        var now = app.Clock.GetUtcNow();
        var team = await TestData.CreateTeamAsync(app.Services);
        await SeedAsync(team, new Random(41), 40, now - TimeSpan.FromHours(2), now);
        app.Clock.Advance(TimeSpan.FromMinutes(1));
        await RollUpAsync();
        var filter = new AnalyticsFilter(now - TimeSpan.FromHours(3), app.Clock.GetUtcNow() + TimeSpan.FromMinutes(5));
        var before = await SummaryAsync(team, filter);

        await SeedAsync(team, new Random(42), 1, app.Clock.GetUtcNow(), app.Clock.GetUtcNow() + TimeSpan.FromSeconds(1));

        Assert.Equal(before.Traces + 1, (await SummaryAsync(team, filter)).Traces);
        await AssertExactAsync(team, filter);
    }

    [Fact]
    public async Task EveryRead_SeesOnlyItsTeam()
    {
        var now = app.Clock.GetUtcNow();
        var mine = await TestData.CreateTeamAsync(app.Services);
        var other = await TestData.CreateTeamAsync(app.Services);
        await SeedAsync(other, new Random(51), 60, now - TimeSpan.FromHours(5), now);
        app.Clock.Advance(TimeSpan.FromMinutes(1));
        await RollUpAsync();
        await SeedAsync(other, new Random(52), 5, app.Clock.GetUtcNow(), app.Clock.GetUtcNow() + TimeSpan.FromSeconds(5));
        var filter = new AnalyticsFilter(now - TimeSpan.FromHours(6), app.Clock.GetUtcNow() + TimeSpan.FromMinutes(2));

        Assert.Equal(0, (await SummaryAsync(mine, filter)).Traces);
        foreach (var by in Enum.GetValues<AnalyticsDimension>())
        {
            var cells = await AsMemberAsync(mine, s => s.CellsAsync(new AnalyticsQuery(filter, MetricInterval.Hour, by, "region")));
            Assert.Empty(cells);
        }

        Assert.Equal(65, (await SummaryAsync(other, filter)).Traces);
    }

    [Fact]
    public async Task AFailingTeam_StaysDirtyForTheNextRun_AndNeverHoldsUpAnother()
    {
        var now = app.Clock.GetUtcNow();
        var failing = await TestData.CreateTeamAsync(app.Services);
        var fine = await TestData.CreateTeamAsync(app.Services);
        await SeedAsync(failing, new Random(61), 60, now - TimeSpan.FromHours(3), now);
        await SeedAsync(fine, new Random(62), 60, now - TimeSpan.FromHours(3), now);
        app.Clock.Advance(TimeSpan.FromMinutes(1));
        var filter = new AnalyticsFilter(now - TimeSpan.FromHours(4), app.Clock.GetUtcNow());

        RollupRun run;
        await using (var scope = app.Services.CreateAsyncScope())
        {
            var sp = scope.ServiceProvider;
            var broken = new FailingFor(failing.Id, sp.GetRequiredService<IRawMetrics>());
            run = await new MetricsRollup(sp.GetRequiredService<IEvalDbContextFactory>(), broken, app.Clock,
                sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<AnalyticsOptions>>(),
                sp.GetRequiredService<Microsoft.Extensions.Logging.ILogger<MetricsRollup>>()).RollUpAsync();
        }

        Assert.True(run.HoursFailed >= 1, $"{run}");
        Assert.True(run.HoursRecomputed >= 1, $"{run}");
        Assert.Equal(60, await RolledTracesAsync(fine.Id));
        Assert.Equal(0, await RolledTracesAsync(failing.Id));
        // Its minutes are still dirty, so they are read from the raw traces meanwhile: still exact.
        await AssertExactAsync(failing, filter);
        await AssertExactAsync(fine, filter);

        var next = await RollUpAsync();
        Assert.Equal(0, next.HoursFailed);
        Assert.Equal(60, await RolledTracesAsync(failing.Id));
        await AssertExactAsync(failing, filter);
    }

    /// <summary>The real raw reads, except that one team's minutes fail (a database error while recomputing it).</summary>
    private sealed class FailingFor(Guid teamId, IRawMetrics inner) : IRawMetrics
    {
        public Task<IReadOnlyList<TeamMinute>> ChangedMinutesAsync(IEvalDbContext db, DateTimeOffset? since, CancellationToken ct = default) =>
            inner.ChangedMinutesAsync(db, since, ct);

        public Task<IReadOnlyList<RollupCell>> MinuteCellsAsync(IEvalDbContext db, Guid team, IReadOnlyList<DateTimeOffset> minutes, CancellationToken ct = default) =>
            team == teamId ? throw new InvalidOperationException("Simulated failure of one team's bucket.") : inner.MinuteCellsAsync(db, team, minutes, ct);

        public Task InsertAsync<T>(IEvalDbContext db, DbSet<T> table, IReadOnlyList<T> rows, CancellationToken ct = default)
            where T : class => inner.InsertAsync(db, table, rows, ct);
    }

    [Fact]
    public async Task ATraceWhoseStartMoves_LeavesItsOldMinute()
    {
        var now = app.Clock.GetUtcNow();
        var team = await TestData.CreateTeamAsync(app.Services);
        using var api = await ApiClient.ForTeamAsync(app, team.Id, ApiKeyScopes.Ingest);
        // OTLP-like assembly through the LangSmith door: the first run arrives, a run that started an hour earlier later.
        var first = now - TimeSpan.FromMinutes(10);
        await PostRunAsync(api, "11111111-1111-4111-8111-111111111111", null, first);
        app.Clock.Advance(TimeSpan.FromMinutes(1));
        await RollUpAsync();
        await PostRunAsync(api, "22222222-2222-4222-8222-222222222222", "11111111-1111-4111-8111-111111111111", first - TimeSpan.FromHours(1));
        app.Clock.Advance(TimeSpan.FromMinutes(1));
        await RollUpAsync();

        await AssertExactAsync(team, new AnalyticsFilter(now - TimeSpan.FromHours(3), app.Clock.GetUtcNow()));
        Assert.Equal(1, await RolledTracesAsync(team.Id));
    }

    private static async Task PostRunAsync(ApiClient api, string id, string? traceId, DateTimeOffset start)
    {
        var run = new Dictionary<string, object?>
        {
            ["id"] = id, ["trace_id"] = traceId ?? id, ["name"] = "step", ["run_type"] = "chain",
            ["start_time"] = start.ToString("O", CultureInfo.InvariantCulture), ["end_time"] = (start + TimeSpan.FromSeconds(2)).ToString("O", CultureInfo.InvariantCulture),
            ["inputs"] = new { q = "hi" }, ["outputs"] = new { a = "hello" },
        };
        if (traceId is not null)
        {
            run["parent_run_id"] = traceId;
            run["dotted_order"] = $"{(start + TimeSpan.FromHours(1)).UtcDateTime:yyyyMMddTHHmmssffffff}Z{traceId}.{start.UtcDateTime:yyyyMMddTHHmmssffffff}Z{id}";
        }
        else
        {
            run["dotted_order"] = $"{start.UtcDateTime:yyyyMMddTHHmmssffffff}Z{id}";
        }

        var response = await api.PostJsonAsync("/api/langsmith/runs", run);
        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
    }

    /// <summary>Random traces through the batch API (every field that counts), random reviews and scores through their services.</summary>
    private async Task<List<Guid>> SeedAsync(
        TestTeam team, Random random, int count, DateTimeOffset from, DateTimeOffset to, int users = 4, Func<Random, double>? humanScore = null)
    {
        using var api = await ApiClient.ForTeamAsync(app, team.Id, ApiKeyScopes.Ingest);
        var ids = new List<Guid>();
        foreach (var chunk in Enumerable.Range(0, count).Chunk(500))
        {
            var traces = chunk.Select(_ =>
            {
                var start = from + TimeSpan.FromMilliseconds(random.NextDouble() * (to - from).TotalMilliseconds);
                var model = Models[random.Next(Models.Length)];
                var latency = random.Next(10) == 0 ? (double?)null : Math.Round(Math.Exp(6 + random.NextDouble() * 2 + random.NextDouble()), 3);
                var trace = new Dictionary<string, object?>
                {
                    ["user_input"] = "q", ["response"] = "a", ["start_time"] = start.ToString("O", CultureInfo.InvariantCulture),
                    ["model"] = model, ["provider"] = model is null ? null : model.StartsWith("gpt", StringComparison.Ordinal) ? "openai" : "other",
                    ["environment"] = Environments[random.Next(Environments.Length)],
                    ["user_id"] = users > 4 && random.Next(10) == 0 ? null : $"user-{random.Next(users)}",
                    ["tags"] = random.Next(3) == 0 ? new[] { "beta", "vip" } : random.Next(2) == 0 ? new[] { "beta" } : Array.Empty<string>(),
                    ["usage"] = new { prompt_tokens = random.Next(1, 2000), completion_tokens = random.Next(0, 800) },
                    ["cost"] = Math.Round((decimal)random.NextDouble() / 10, 6),
                    ["latency_ms"] = latency,
                    ["time_to_first_token_ms"] = latency is null || random.Next(3) == 0 ? null : Math.Round(latency.Value / 3, 3),
                    ["error"] = random.Next(8) == 0 ? "timeout" : null,
                    ["metadata"] = random.Next(4) == 0 ? null : new { region = random.Next(2) == 0 ? "eu" : "us", shard = random.Next(3) },
                };
                if (random.Next(3) == 0)
                {
                    trace["experiment"] = "prompt-v2";
                    trace["variant"] = random.Next(2) == 0 ? "control" : "treatment";
                }

                return trace.Where(p => p.Value is not null).ToDictionary();
            }).ToList();
            var response = await api.PostJsonAsync("/api/v1/traces/batch", new { traces });
            var body = await response.Content.ReadFromJsonAsync<JsonElement>();
            Assert.True(response.IsSuccessStatusCode, body.ToString());
            ids.AddRange(body.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("id").GetGuid()));
        }

        foreach (var id in ids.Where(_ => random.Next(3) == 0))
        {
            var command = random.Next(4) switch
            {
                0 => ReviewCommand.Accept(),
                1 => ReviewCommand.Reject(Reasons[random.Next(Reasons.Length)]),
                2 => ReviewCommand.MarkForReview(),
                _ => ReviewCommand.Reject("off_topic"),
            };
            await ReviewAsync(team, id, command);
        }

        if (humanScore is not null)
        {
            foreach (var id in ids.Where(_ => random.Next(3) == 0))
            {
                await ReviewAsync(team, id, ReviewCommand.SetScore(humanScore(random)));
            }
        }

        foreach (var id in ids.Where(_ => random.Next(5) == 0))
        {
            await ScoreAsync(team, id, random.Next(2) == 0 ? "faithfulness" : "relevance", Math.Round(random.NextDouble(), 3));
        }

        return ids;
    }

    private async Task ReviewAsync(TestTeam team, Guid id, ReviewCommand command)
    {
        await using var scope = app.Services.CreateAsyncScope();
        scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(team.Id, team.OwnerId, TeamRole.Owner);
        await scope.ServiceProvider.GetRequiredService<ReviewService>().ReviewAsync(id, command);
    }

    private async Task SetScaleAsync(TestTeam team, ScoreScale scale)
    {
        await using var scope = app.Services.CreateAsyncScope();
        scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(team.Id, team.OwnerId, TeamRole.Owner);
        await scope.ServiceProvider.GetRequiredService<ReviewSettingsService>().SetScaleAsync(scale);
    }

    private async Task ScoreAsync(TestTeam team, Guid id, string name, double value)
    {
        await using var scope = app.Services.CreateAsyncScope();
        scope.ServiceProvider.GetRequiredService<TeamContext>().SetApiKey(team.Id, Guid.NewGuid(), ApiKeyScopes.Ingest);
        using var body = JsonDocument.Parse(JsonSerializer.Serialize(new { name, value }));
        await scope.ServiceProvider.GetRequiredService<TraceUpdates>().AddScoresAsync(id, body.RootElement);
    }

    private async Task<RollupRun> RollUpAsync()
    {
        await using var scope = app.Services.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<IMetricsRollup>().RollUpAsync();
    }

    private async Task<T> AsMemberAsync<T>(TestTeam team, Func<AnalyticsService, Task<T>> read)
    {
        await using var scope = app.Services.CreateAsyncScope();
        scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(team.Id, team.OwnerId, TeamRole.Viewer);
        return await read(scope.ServiceProvider.GetRequiredService<AnalyticsService>());
    }

    private Task<MetricAggregate> SummaryAsync(TestTeam team, AnalyticsFilter filter) => AsMemberAsync(team, s => s.SummaryAsync(filter));

    private async Task<(List<Trace> Traces, List<Score> Scores)> RawAsync(TestTeam team)
    {
        await using var scope = app.Services.CreateAsyncScope();
        scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(team.Id, team.OwnerId, TeamRole.Viewer);
        await using var db = await scope.ServiceProvider.GetRequiredService<IEvalDbContextFactory>().CreateAsync();
        return (await db.Traces.AsNoTracking().ToListAsync(), await db.Scores.AsNoTracking().ToListAsync());
    }

    private async Task<List<Guid>> PendingAsync(TestTeam team) =>
        (await RawAsync(team)).Traces.Where(t => t.ReviewStatus == ReviewStatus.Pending).OrderBy(t => t.StartedAt).Select(t => t.Id).ToList();

    private async Task<long> RolledTracesAsync(Guid teamId)
    {
        await using var scope = app.Services.CreateAsyncScope();
        await using var db = await scope.ServiceProvider.GetRequiredService<IEvalDbContextFactory>().CreateAsync();
        var minutes = await db.MetricRollups.IgnoreQueryFilters().Where(r => r.TeamId == teamId && r.Interval == MetricInterval.Minute).SumAsync(r => r.Traces);
        var hours = await db.MetricRollups.IgnoreQueryFilters().Where(r => r.TeamId == teamId && r.Interval == MetricInterval.Hour).SumAsync(r => r.Traces);
        var days = await db.MetricRollups.IgnoreQueryFilters().Where(r => r.TeamId == teamId && r.Interval == MetricInterval.Day).SumAsync(r => r.Traces);
        Assert.Equal(minutes, hours);
        Assert.Equal(minutes, days);
        return minutes;
    }

    private async Task<List<string>> RowsAsync(Guid teamId)
    {
        await using var scope = app.Services.CreateAsyncScope();
        await using var db = await scope.ServiceProvider.GetRequiredService<IEvalDbContextFactory>().CreateAsync();
        var rows = await db.MetricRollups.IgnoreQueryFilters().AsNoTracking().Where(r => r.TeamId == teamId).ToListAsync();
        return rows.Select(r => JsonSerializer.Serialize(r)).Order(StringComparer.Ordinal).ToList();
    }

    private async Task AssertExactAsync(TestTeam team, AnalyticsFilter filter)
    {
        var actual = await SummaryAsync(team, filter);
        var (traces, scores) = await RawAsync(team);
        var from = MetricInterval.Minute.Floor(filter.From);
        var to = MetricInterval.Minute.Floor(filter.To);
        var expected = traces.Where(t => t.StartedAt >= from && t.StartedAt < to && Matches(t, filter)).ToList();
        AssertAggregate(expected, scores, actual, $"summary {filter}");
    }

    private async Task AssertSeriesExactAsync(TestTeam team, AnalyticsQuery query)
    {
        var cells = await AsMemberAsync(team, s => s.CellsAsync(query));
        var (traces, scores) = await RawAsync(team);
        var from = MetricInterval.Minute.Floor(query.Filter.From);
        var to = MetricInterval.Minute.Floor(query.Filter.To);
        var expected = traces.Where(t => t.StartedAt >= from && t.StartedAt < to && Matches(t, query.Filter))
            .SelectMany(t => GroupsOf(t, query.GroupBy, query.MetadataKey).SelectMany(g => GroupsOf(t, query.StackBy, query.MetadataKey)
                .Select(st => (Key: (Bucket: query.Interval.Floor(t.StartedAt), Group: g, Stack: st), Trace: t))))
            .GroupBy(x => x.Key, x => x.Trace)
            .ToDictionary(g => g.Key, g => g.ToList());
        Assert.Equal(
            expected.Keys.OrderBy(k => k.Bucket).ThenBy(k => k.Group, StringComparer.Ordinal).ThenBy(k => k.Stack, StringComparer.Ordinal),
            cells.Select(c => (c.Bucket, c.Group, c.Stack)).OrderBy(k => k.Bucket).ThenBy(k => k.Group, StringComparer.Ordinal).ThenBy(k => k.Stack, StringComparer.Ordinal));
        foreach (var cell in cells)
        {
            AssertAggregate(expected[(cell.Bucket, cell.Group, cell.Stack)], scores, cell.Aggregate, $"{query.Interval} {query.GroupBy} {query.StackBy} {cell.Bucket:O} {cell.Group} {cell.Stack}");
        }

        if (query.StackBy is not null)
        {
            return;
        }

        // The series the API draws: each point's value is the metric of its bucket's traces.
        var series = AnalyticsService.ToSeries(cells, query.Interval, Metric.LatencyP95, top: 100);
        foreach (var s in series.Series)
        {
            foreach (var point in s.Points)
            {
                var exact = Exact(expected[(point.T, s.Group, null)], [], Metric.LatencyP95);
                AssertClose(exact, point.Value, Metric.LatencyP95, $"series {s.Group} {point.T:O}");
            }
        }
    }

    private static List<string?> GroupsOf(Trace t, AnalyticsDimension? dimension, string? metadataKey) => dimension switch
    {
        null => [null],
        AnalyticsDimension.Model => [t.Model],
        AnalyticsDimension.Provider => [t.Provider],
        AnalyticsDimension.Environment => [t.Environment],
        AnalyticsDimension.Experiment => [t.Experiment],
        AnalyticsDimension.Variant => [t.Variant],
        AnalyticsDimension.UserId => [t.UserId],
        AnalyticsDimension.Tag => t.Tags.Count == 0 ? [null] : [.. t.Tags],
        AnalyticsDimension.Metadata => [MetadataGroup(t.Metadata, metadataKey!)],
        _ => throw new ArgumentOutOfRangeException(nameof(dimension)),
    };

    private static string? MetadataGroup(string? metadata, string key)
    {
        if (metadata is null)
        {
            return null;
        }

        using var doc = JsonDocument.Parse(metadata);
        return doc.RootElement.TryGetProperty(key, out var v) ? v.ToString() : null;
    }

    private static bool Matches(Trace t, AnalyticsFilter f) =>
        (f.Model is null || t.Model == f.Model) && (f.Provider is null || t.Provider == f.Provider) && (f.Environment is null || t.Environment == f.Environment)
        && (f.Experiment is null || t.Experiment == f.Experiment) && (f.Variant is null || t.Variant == f.Variant) && (f.Tag is null || t.Tags.Contains(f.Tag));

    private static void AssertAggregate(List<Trace> expected, List<Score> scores, MetricAggregate actual, string where)
    {
        Assert.True(expected.Count == actual.Traces, $"{where}: {actual.Traces} traces, expected {expected.Count}");
        Assert.Equal(expected.Sum(t => (long)(t.PromptTokens ?? 0)), actual.PromptTokens);
        Assert.Equal(expected.Sum(t => (long)(t.CompletionTokens ?? 0)), actual.CompletionTokens);
        Assert.Equal(expected.Sum(t => t.Cost ?? 0), actual.Cost);
        Assert.Equal(expected.Count(t => t.Error is not null), actual.Errors);
        Assert.Equal(expected.Count(t => t.ReviewStatus == ReviewStatus.Accepted), actual.Accepted);
        Assert.Equal(expected.Count(t => t.ReviewStatus == ReviewStatus.Rejected), actual.Rejected);
        Assert.Equal(expected.Count(t => t.ReviewStatus == ReviewStatus.NeedsReview), actual.NeedsReview);
        Assert.Equal(
            expected.Where(t => t.ReviewStatus == ReviewStatus.Rejected).GroupBy(t => t.ReviewReason ?? "").OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => (g.Key, (long)g.Count())),
            actual.RejectionReasons.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => (p.Key, p.Value)));
        Assert.Equal(expected.Count(t => t.HumanScore is not null), actual.HumanScoreCount);
        Assert.Equal(expected.Sum(t => t.HumanScore ?? 0), actual.HumanScoreSum, 9);
        // The distribution, binned exactly (decimal arithmetic here, not the code's rule): counts per score to the hundredth.
        Assert.Equal(
            expected.Where(t => t.HumanScore is not null)
                .GroupBy(t => Math.Round((decimal)t.HumanScore!.Value, 2, MidpointRounding.AwayFromZero).ToString("0.##", CultureInfo.InvariantCulture))
                .OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => (g.Key, (long)g.Count())),
            actual.HumanScores.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => (p.Key, p.Value)));
        Assert.Equal(actual.HumanScoreCount, actual.HumanScores.Values.Sum());
        Assert.Equal(expected.Count(t => t.LatencyMs is not null), actual.Latency.Count);
        var ids = expected.Select(t => t.Id).ToHashSet();
        var named = scores.Where(s => ids.Contains(s.TraceId) && s.NumericValue is not null).GroupBy(s => s.Name).ToDictionary(g => g.Key, g => g.ToList());
        Assert.Equal(named.Keys.Order(StringComparer.Ordinal), actual.Scores.Keys.Order(StringComparer.Ordinal));
        foreach (var (name, list) in named)
        {
            Assert.Equal(list.Count, actual.Scores[name].Count);
            Assert.Equal(list.Sum(s => s.NumericValue!.Value), actual.Scores[name].Sum, 9);
        }

        foreach (var metric in Checked)
        {
            AssertClose(Exact(expected, scores, metric), actual.Value(metric), metric, where);
        }
    }

    /// <summary>The metric straight from the rows: rates by their definitions, percentiles by nearest rank.</summary>
    private static double? Exact(List<Trace> t, List<Score> scores, Metric metric)
    {
        double? Rate(long a, long n) => n == 0 ? null : (double)a / n;
        var latencies = t.Where(x => x.LatencyMs is not null).Select(x => x.LatencyMs!.Value).Order().ToList();
        var ttft = t.Where(x => x.TimeToFirstTokenMs is not null).Select(x => x.TimeToFirstTokenMs!.Value).Order().ToList();
        long accepted = t.Count(x => x.ReviewStatus == ReviewStatus.Accepted), rejected = t.Count(x => x.ReviewStatus == ReviewStatus.Rejected);
        var human = t.Where(x => x.HumanScore is not null).Select(x => x.HumanScore!.Value).ToList();
        _ = scores;
        return metric switch
        {
            Metric.Traces => t.Count,
            Metric.Errors => t.Count(x => x.Error is not null),
            Metric.ErrorRate => Rate(t.Count(x => x.Error is not null), t.Count),
            Metric.LatencyP50 => LatencyHistogram.ExactQuantile(latencies, 0.50),
            Metric.LatencyP95 => LatencyHistogram.ExactQuantile(latencies, 0.95),
            Metric.LatencyP99 => LatencyHistogram.ExactQuantile(latencies, 0.99),
            Metric.TimeToFirstTokenP50 => LatencyHistogram.ExactQuantile(ttft, 0.50),
            Metric.PromptTokens => t.Sum(x => (long)(x.PromptTokens ?? 0)),
            Metric.Cost => (double)t.Sum(x => x.Cost ?? 0),
            Metric.Accepted => accepted,
            Metric.Rejected => rejected,
            Metric.NeedsReview => t.Count(x => x.ReviewStatus == ReviewStatus.NeedsReview),
            Metric.AcceptanceRate => Rate(accepted, accepted + rejected),
            Metric.HumanScore => human.Count == 0 ? null : human.Sum() / human.Count,
            _ => throw new ArgumentOutOfRangeException(nameof(metric)),
        };
    }

    private static void AssertClose(double? expected, double? actual, Metric metric, string where)
    {
        if (expected is null || actual is null)
        {
            Assert.True(expected is null && actual is null, $"{where} {metric}: {actual}, expected {expected}");
            return;
        }

        var percentile = metric is Metric.LatencyP50 or Metric.LatencyP90 or Metric.LatencyP95 or Metric.LatencyP99 or Metric.TimeToFirstTokenP50 or Metric.TimeToFirstTokenP95;
        var tolerance = percentile ? 0.01 * Math.Abs(expected.Value) : 1e-9 * Math.Max(1, Math.Abs(expected.Value));
        Assert.True(Math.Abs(expected.Value - actual.Value) <= tolerance, $"{where} {metric}: {actual}, expected {expected}");
    }
}

public sealed class MetricsRollupPostgresTests(ClockedPostgresAppFactory app) : MetricsRollupTests(app), IClassFixture<ClockedPostgresAppFactory>;

public sealed class MetricsRollupSqliteTests(ClockedSqliteAppFactory app) : MetricsRollupTests(app), IClassFixture<ClockedSqliteAppFactory>;
