using EvalPlatform.Core.Analytics;
using EvalPlatform.Core.Common;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Xunit.Abstractions;

namespace EvalPlatform.Tests.Unit.Analytics;

/// <summary>
/// <see cref="TrendService"/> over crafted cells from an in-memory <see cref="IMetricsReader"/>: a real change gives the
/// sentence a person can act on with its p-value, stationary noise gives nothing, an injected spike one anomaly at its bucket.
/// </summary>
public sealed class TrendAnalysisTests(ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly Guid TeamA = Guid.NewGuid();
    private static readonly Guid TeamB = Guid.NewGuid();

    private readonly InMemoryMetricsStore _store = new();
    private readonly FakeTimeProvider _clock = new(T0.AddDays(14));
    private ServiceProvider _services = default!;

    public Task InitializeAsync()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddHybridCache();
        services.AddSingleton<TimeProvider>(_clock);
        services.AddSingleton(_store);
        services.AddScoped<TeamContext>();
        services.AddScoped<ITeamContext>(sp => sp.GetRequiredService<TeamContext>());
        services.AddScoped<IMetricsReader, InMemoryMetricsReader>();
        services.AddScoped<AnalyticsService>();
        services.AddScoped<TrendService>();
        _services = services.BuildServiceProvider(new ServiceProviderOptions { ValidateScopes = true, ValidateOnBuild = true });
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _services.DisposeAsync();

    /// <summary>A scope acting as a Viewer of <paramref name="teamId"/> (or as <paramref name="act"/> sets it).</summary>
    private (AsyncServiceScope Scope, TrendService Trends) As(Guid teamId, Action<TeamContext>? act = null)
    {
        var scope = _services.CreateAsyncScope();
        var context = scope.ServiceProvider.GetRequiredService<TeamContext>();
        if (act is null)
        {
            context.SetMember(teamId, "viewer", TeamRole.Viewer);
        }
        else
        {
            act(context);
        }

        return (scope, scope.ServiceProvider.GetRequiredService<TrendService>());
    }

    private async Task<TrendReport> FindAsync(Guid teamId, DateTimeOffset from, DateTimeOffset to, string? model = null)
    {
        var (scope, trends) = As(teamId);
        await using (scope)
        {
            var report = await trends.FindAsync(new AnalyticsFilter(from, to, Model: model), CancellationToken.None);
            foreach (var f in report.Findings)
            {
                output.WriteLine($"{f.Kind} {f.Metric} {f.Group ?? "(all)"} worse={f.Worse} p={f.PValue} z={f.Score}: {f.Sentence}");
            }

            return report;
        }
    }

    /// <summary>
    /// One busy hour a day (10:00) of gpt-4o reviews: 135 decided a week, 123 accepted in the first week (91 %) and 105
    /// in the second (78 %).
    /// </summary>
    private void AddAcceptanceDrop(Guid teamId, DateTimeOffset from, TimeSpan dayLength)
    {
        int[] decided = [19, 19, 19, 19, 19, 20, 20];
        int[] acceptedFirst = [17, 17, 17, 17, 17, 19, 19];
        int[] acceptedSecond = [15, 15, 15, 15, 15, 15, 15];
        for (var day = 0; day < 14; day++)
        {
            var n = decided[day % 7];
            var accepted = day < 7 ? acceptedFirst[day] : acceptedSecond[day - 7];
            _store.Add(teamId, from + (day * dayLength) + TimeSpan.FromHours(10 * dayLength / TimeSpan.FromDays(1)), "gpt-4o",
                new MetricAggregate { Traces = n, Accepted = accepted, Rejected = n - accepted });
        }
    }

    [Fact]
    public async Task FindAsync_RealDropInAcceptance_GivesTheWeekOverWeekSentenceAndP()
    {
        AddAcceptanceDrop(TeamA, T0, TimeSpan.FromDays(1));

        var report = await FindAsync(TeamA, T0, T0.AddDays(14));

        var finding = Assert.Single(report.Findings, f => f.Kind == TrendKind.WeekOverWeek && f.Group == "gpt-4o");
        Assert.Equal(Metric.AcceptanceRate, finding.Metric);
        Assert.Equal("Acceptance rate for gpt-4o fell from 91 % to 78 % week over week (p = 0.003)", finding.Sentence);
        Assert.True(finding.Worse);
        // Pooled two-proportion z-test of 123/135 against 105/135: z = -3.0225, two-sided p = 0.0025072.
        Assert.Equal(0.0025072, finding.PValue!.Value, 6);
        Assert.Equal(123.0 / 135, finding.Before!.Value, 9);
        Assert.Equal(105.0 / 135, finding.After!.Value, 9);
        Assert.Equal(-3.0225, finding.Score!.Value, 3);
        Assert.Contains(report.Findings, f => f.Group is null && f.Sentence == "Acceptance rate overall fell from 91 % to 78 % week over week (p = 0.003)");
        // Bad news first.
        Assert.True(report.Findings.SkipWhile(f => f.Worse).All(f => !f.Worse));
        Assert.Equal(T0.AddDays(14), report.ComputedAt);
    }

    [Fact]
    public async Task FindAsync_RangeUnderTwoWeeks_ComparesHalvesAndSaysSo()
    {
        // The same drop squeezed into 7 days: "days" of 12 hours, so the range's halves hold the two weeks' reviews.
        AddAcceptanceDrop(TeamA, T0, TimeSpan.FromHours(12));

        var report = await FindAsync(TeamA, T0, T0.AddDays(7));

        var finding = Assert.Single(report.Findings, f => f.Kind == TrendKind.WeekOverWeek && f.Group == "gpt-4o");
        Assert.Equal("Acceptance rate for gpt-4o fell from 91 % to 78 % in the last 3.5 days against the 3.5 days before (p = 0.003)", finding.Sentence);
    }

    /// <summary>
    /// Stationary noise over four weeks of two models, each week its own report: no slope and no change between halves
    /// (each also has to be material), and anomalies only at the rate the limit allows (a 5 % chance per report, by
    /// Bonferroni over the buckets scored), so at most one in the four reports.
    /// </summary>
    [Fact]
    public async Task FindAsync_FlatNoise_FindsNothing()
    {
        var findings = new List<TrendFinding>();
        for (var week = 0; week < 4; week++)
        {
            var teamId = Guid.NewGuid();
            var rng = new Random(20261101 + week);
            TrendData.AddHours(_store, teamId, "gpt-4o", T0, 7 * 24, rng, _ => new TrendData.Hour());
            TrendData.AddHours(_store, teamId, "claude-sonnet", T0, 7 * 24, rng, _ => new TrendData.Hour(Traces: 120, LatencyMedianMs: 1200, AcceptanceRate: 0.9));
            findings.AddRange((await FindAsync(teamId, T0, T0.AddDays(7))).Findings);
        }

        Assert.DoesNotContain(findings, f => f.Kind != TrendKind.Anomaly);
        Assert.True(findings.Count <= 1, $"{findings.Count} anomalies in noise: {string.Join("; ", findings.Select(f => f.Sentence))}");
    }

    [Fact]
    public async Task FindAsync_InjectedSpike_GivesOneAnomalyAtItsBucket()
    {
        var rng = new Random(42);
        TrendData.AddHours(_store, TeamA, "gpt-4o", T0, 7 * 24, rng, i => new TrendData.Hour(ErrorRate: i == 100 ? 0.3 : 0.02));

        var report = await FindAsync(TeamA, T0, T0.AddDays(7));

        var anomaly = Assert.Single(report.Findings, f => f.Group == "gpt-4o");
        Assert.Equal(TrendKind.Anomaly, anomaly.Kind);
        Assert.Equal(Metric.ErrorRate, anomaly.Metric);
        Assert.Equal(T0.AddHours(100), anomaly.At);
        Assert.True(anomaly.Worse);
        Assert.True(anomaly.Score > TrendAnalysis.AnomalyLimit);
        Assert.StartsWith("Error rate for gpt-4o jumped to ", anomaly.Sentence, StringComparison.Ordinal);
        Assert.Contains("in the hour from 2026-11-05 04:00 UTC, against a usual", anomaly.Sentence, StringComparison.Ordinal);
        // All traces are gpt-4o's here: the overall series has the same one anomaly and nothing else.
        Assert.Equal(T0.AddHours(100), Assert.Single(report.Findings, f => f.Group is null).At);
    }

    [Fact]
    public async Task FindAsync_SlowerSecondWeek_IsWorseLatencyByWelch()
    {
        var rng = new Random(3);
        TrendData.AddHours(_store, TeamA, "claude-sonnet", T0, 14 * 24, rng, i => new TrendData.Hour(LatencyMedianMs: i < 7 * 24 ? 800 : 1040));

        var report = await FindAsync(TeamA, T0, T0.AddDays(14));

        var finding = Assert.Single(report.Findings, f => f.Kind == TrendKind.WeekOverWeek && f.Metric == Metric.LatencyP95 && f.Group == "claude-sonnet");
        Assert.Matches(@"^p95 latency for claude-sonnet rose from 1\.\d\d s to 1\.\d\d s week over week \(p < 0\.001\)$", finding.Sentence);
        Assert.True(finding.Worse);
        Assert.InRange(finding.After!.Value / finding.Before!.Value, 1.25, 1.35);
        // Flat otherwise: no other metric of this model is reported.
        Assert.All(report.Findings.Where(f => f.Group == "claude-sonnet"), f => Assert.Contains(f.Metric, new[] { Metric.LatencyP95 }));
    }

    [Fact]
    public async Task FindAsync_SteadyRiseInErrors_GivesASlopeWithItsInterval()
    {
        var rng = new Random(11);
        TrendData.AddHours(_store, TeamA, "gpt-4o", T0, 14 * 24, rng, i => new TrendData.Hour(ErrorRate: 0.02 + (0.04 * i / (14 * 24))));

        var report = await FindAsync(TeamA, T0, T0.AddDays(14));

        var slope = Assert.Single(report.Findings, f => f.Kind == TrendKind.Slope && f.Metric == Metric.ErrorRate && f.Group == "gpt-4o");
        Assert.Matches(@"^Error rate for gpt-4o rose steadily over the 14 days, from about \d(\.\d)? % to \d(\.\d)? % \(\+0\.\d points a day, 95 % CI \+0\.\d points to \+0\.\d points\)$", slope.Sentence);
        Assert.True(slope.Worse);
        Assert.InRange(slope.Before!.Value, 0.015, 0.025);
        Assert.InRange(slope.After!.Value, 0.055, 0.065);
        // 4 points over 14 days: 0.29 points a day, inside its interval, which excludes 0.
        Assert.InRange(0.04 / 14, slope.SlopeLow!.Value, slope.SlopeHigh!.Value);
        Assert.True(slope.SlopeLow > 0);
        Assert.True(slope.PValue < 0.001);
    }

    [Fact]
    public async Task FindAsync_HalfTheTrafficAtHalfAgainTheCost_AreCountAndWelchFindings()
    {
        var rng = new Random(5);
        TrendData.AddHours(_store, TeamA, "gpt-4o", T0, 14 * 24, rng,
            i => i < 7 * 24 ? new TrendData.Hour(Traces: 200, CostMean: 0.010) : new TrendData.Hour(Traces: 100, CostMean: 0.015));

        var report = await FindAsync(TeamA, T0, T0.AddDays(14));

        var week = report.Findings.Where(f => f.Kind == TrendKind.WeekOverWeek && f.Group == "gpt-4o").ToList();
        var traffic = Assert.Single(week, f => f.Metric == Metric.Traces);
        Assert.Equal("Trace volume for gpt-4o fell from 4,800 a day to 2,400 a day week over week (p < 0.001)", traffic.Sentence);
        Assert.True(traffic.Worse);
        Assert.Equal(4800, traffic.Before!.Value, 9);
        Assert.Equal(2400, traffic.After!.Value, 9);
        var cost = Assert.Single(week, f => f.Metric == Metric.Cost);
        Assert.Equal("Cost per trace for gpt-4o rose from $0.010 to $0.015 week over week (p < 0.001)", cost.Sentence);
        Assert.True(cost.Worse);
        Assert.InRange(cost.After!.Value / cost.Before!.Value, 1.45, 1.55);
    }

    [Fact]
    public void TeamContext_JobActsForItsTeamAndOnlyReads()
    {
        var context = new TeamContext();
        context.SetJob(TeamA, TrendRefresher.JobName);

        Assert.Equal(TeamA, context.TeamId);
        Assert.True(context.Can(Permission.ViewTraces));
        Assert.False(context.Can(Permission.IngestTraces));
        Assert.False(context.Can(Permission.ReviewTraces));
        Assert.False(context.Can(Permission.ManageApiKeys));

        context.SetApiKey(TeamA, Guid.NewGuid(), ApiKeyScopes.Ingest);
        Assert.Null(context.JobName);
        Assert.False(context.Can(Permission.ViewTraces));
    }

    [Fact]
    public async Task FindAsync_EachTeamSeesOnlyItsOwnMetrics()
    {
        AddAcceptanceDrop(TeamA, T0, TimeSpan.FromDays(1));

        Assert.NotEmpty((await FindAsync(TeamA, T0, T0.AddDays(14))).Findings);
        Assert.Empty((await FindAsync(TeamB, T0, T0.AddDays(14))).Findings);
    }

    [Fact]
    public async Task GetDefaultAsync_IsComputedOnceThenServedFromTheCache()
    {
        AddAcceptanceDrop(TeamA, T0.AddDays(7), TimeSpan.FromHours(12));

        var (scope, trends) = As(TeamA);
        await using (scope)
        {
            var first = await trends.GetDefaultAsync();
            var reads = _store.Reads;
            _store.Clear(TeamA);
            var second = await trends.GetDefaultAsync();

            Assert.Equal(reads, _store.Reads);
            Assert.Equal(first.ComputedAt, second.ComputedAt);
            Assert.Equal(first.Findings.Select(f => f.Sentence), second.Findings.Select(f => f.Sentence));
            Assert.Contains(second.Findings, f => f.Metric == Metric.AcceptanceRate && f.Group == "gpt-4o");
            Assert.Equal(new AnalyticsFilter(T0.AddDays(7), T0.AddDays(14)), second.Filter);
        }

        // Another team's default is its own.
        var (other, otherTrends) = As(TeamB);
        await using (other)
        {
            Assert.Empty((await otherTrends.GetDefaultAsync()).Findings);
        }
    }

    [Fact]
    public async Task RefreshDefaultAsync_ReplacesTheCachedReport()
    {
        AddAcceptanceDrop(TeamA, T0.AddDays(7), TimeSpan.FromHours(12));
        var (scope, trends) = As(TeamA, c => c.SetJob(TeamA, TrendRefresher.JobName));
        await using (scope)
        {
            Assert.NotEmpty((await trends.GetDefaultAsync()).Findings);
            _store.Clear(TeamA);
            _clock.Advance(TimeSpan.FromHours(1));

            var refreshed = await trends.RefreshDefaultAsync();
            var served = await trends.GetDefaultAsync();

            Assert.Empty(refreshed.Findings);
            Assert.Equal(refreshed.ComputedAt, served.ComputedAt);
            Assert.Empty(served.Findings);
        }
    }

    [Fact]
    public async Task GetDefaultAsync_RefusesWhoMayNotRead_EvenWhenCached()
    {
        AddAcceptanceDrop(TeamA, T0.AddDays(7), TimeSpan.FromHours(12));
        var (viewer, trends) = As(TeamA);
        await using (viewer)
        {
            await trends.GetDefaultAsync();
        }

        var (ingestOnly, refused) = As(TeamA, c => c.SetApiKey(TeamA, Guid.NewGuid(), ApiKeyScopes.Ingest));
        await using (ingestOnly)
        {
            await Assert.ThrowsAsync<PermissionDeniedException>(() => refused.GetDefaultAsync());
            await Assert.ThrowsAsync<PermissionDeniedException>(() => refused.FindAsync(new AnalyticsFilter(T0, T0.AddDays(1))));
        }

        var (nobody, none) = As(TeamA, c => c.Clear());
        await using (nobody)
        {
            await Assert.ThrowsAsync<PermissionDeniedException>(() => none.GetDefaultAsync());
        }
    }

    [Fact]
    public async Task FindAsync_EmptyRange_IsRefusedNamingTo()
    {
        var (scope, trends) = As(TeamA);
        await using (scope)
        {
            var e = await Assert.ThrowsAsync<DomainValidationException>(() => trends.FindAsync(new AnalyticsFilter(T0, T0.AddSeconds(30))));
            Assert.Equal("to", e.Field);
        }
    }

    [Fact]
    public void AnomalyLimitFor_GrowsWithTheBucketsScored()
    {
        Assert.Equal(3.5, TrendAnalysis.AnomalyLimitFor(0));
        Assert.Equal(3.5, TrendAnalysis.AnomalyLimitFor(10));
        // Two-sided Bonferroni at 5 % over 10,000 tests: the normal quantile of 1 − 2.5e-6, 4.56.
        Assert.InRange(TrendAnalysis.AnomalyLimitFor(10_000), 4.55, 4.57);
    }
}
