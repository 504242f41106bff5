using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using EvalPlatform.Core.Analytics;
using EvalPlatform.Core.Reviews;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace EvalPlatform.Tests.Integration.Analytics;

/// <summary>GET /api/v1/analytics/summary and /timeseries on each database: the figures, filters, groups, 400s naming the field, scopes, tenancy.</summary>
public abstract class AnalyticsApiTests(ClockedAppFactory app)
{
    private static string Iso(DateTimeOffset t) => Uri.EscapeDataString(t.ToString("O", CultureInfo.InvariantCulture));

    /// <summary>A team with four traces an hour ago (two models, one error, one rejected, one accepted) and a read key.</summary>
    private async Task<(ApiClient Api, TestTeam Team, DateTimeOffset Start, List<Guid> Ids)> TeamWithTracesAsync()
    {
        var (api, team) = await ApiClient.ForNewTeamAsync(app, ApiKeyScopes.Ingest | ApiKeyScopes.Read);
        var start = MetricInterval.Minute.Floor(app.Clock.GetUtcNow()) - TimeSpan.FromMinutes(58);
        object Trace(int i, string model, double latency, string? error = null) => new
        {
            user_input = "q", response = "a", model, start_time = (start + TimeSpan.FromMinutes(i)).ToString("O", CultureInfo.InvariantCulture),
            latency_ms = latency, error, cost = 0.25m, usage = new { prompt_tokens = 100, completion_tokens = 10 },
            metadata = new { region = i % 2 == 0 ? "eu" : "us" },
        };
        var ids = new List<Guid>
        {
            await api.PostTraceAsync(Trace(0, "gpt-4o", 100)),
            await api.PostTraceAsync(Trace(1, "gpt-4o", 200, "timeout")),
            await api.PostTraceAsync(Trace(2, "claude", 300)),
            await api.PostTraceAsync(Trace(30, "claude", 400)),
        };
        await using var scope = app.Services.CreateAsyncScope();
        scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(team.Id, team.OwnerId, TeamRole.Owner);
        var reviews = scope.ServiceProvider.GetRequiredService<ReviewService>();
        await reviews.ReviewAsync(ids[0], ReviewCommand.Accept());
        await reviews.ReviewAsync(ids[1], ReviewCommand.Reject("hallucination"));
        return (api, team, start, ids);
    }

    private async Task RollUpAsync()
    {
        await using var scope = app.Services.CreateAsyncScope();
        await scope.ServiceProvider.GetRequiredService<IMetricsRollup>().RollUpAsync();
    }

    [Fact]
    public async Task Summary_GivesEveryFigure_AndATraceSentNowCountsAtOnce()
    {
        var (api, _, _, _) = await TeamWithTracesAsync();
        app.Clock.Advance(TimeSpan.FromMinutes(1));
        await RollUpAsync();

        var s = await api.GetJsonAsync("/api/v1/analytics/summary");

        Assert.Equal(4, s.GetProperty("traces").GetInt64());
        Assert.Equal(1, s.GetProperty("errors").GetInt64());
        Assert.Equal(0.25, s.GetProperty("error_rate").GetDouble());
        var p50 = s.GetProperty("latency_ms").GetProperty("p50").GetDouble();
        Assert.InRange(p50, 198, 202);
        Assert.InRange(s.GetProperty("latency_ms").GetProperty("p99").GetDouble(), 396, 404);
        Assert.Equal(400, s.GetProperty("prompt_tokens").GetInt64());
        Assert.Equal(40, s.GetProperty("completion_tokens").GetInt64());
        Assert.Equal(1.0m, s.GetProperty("cost").GetDecimal());
        Assert.Equal((2, 1, 1, 0), (s.GetProperty("reviewed").GetInt64(), s.GetProperty("accepted").GetInt64(), s.GetProperty("rejected").GetInt64(), s.GetProperty("needs_review").GetInt64()));
        Assert.Equal(0.5, s.GetProperty("acceptance_rate").GetDouble());
        var reason = Assert.Single(s.GetProperty("rejection_reasons").EnumerateArray());
        Assert.Equal(("hallucination", 1), (reason.GetProperty("reason").GetString(), reason.GetProperty("count").GetInt64()));
        Assert.Equal(0.5, s.GetProperty("human_score").GetProperty("mean").GetDouble());
        Assert.Equal(2, s.GetProperty("human_score").GetProperty("count").GetInt64());
        // Good/bad: the accepted trace scored 1, the rejected 0.
        Assert.Equal([(0.0, 1L), (1.0, 1L)], s.GetProperty("human_score").GetProperty("distribution").EnumerateArray()
            .Select(d => (d.GetProperty("score").GetDouble(), d.GetProperty("count").GetInt64())));

        var gpt = await api.GetJsonAsync("/api/v1/analytics/summary?model=gpt-4o");
        Assert.Equal(2, gpt.GetProperty("traces").GetInt64());

        // Live: a trace that starts now (after the run, past its live edge) counts without a run.
        await api.PostTraceAsync(new { user_input = "q", response = "a", model = "gpt-4o" });
        Assert.Equal(5, (await api.GetJsonAsync("/api/v1/analytics/summary")).GetProperty("traces").GetInt64());
        Assert.Equal(3, (await api.GetJsonAsync("/api/v1/analytics/summary?model=gpt-4o")).GetProperty("traces").GetInt64());
    }

    [Fact]
    public async Task Summary_OfAnEmptyRange_HasNullRates()
    {
        var (api, _, start, _) = await TeamWithTracesAsync();

        var s = await api.GetJsonAsync($"/api/v1/analytics/summary?from={Iso(start - TimeSpan.FromDays(2))}&to={Iso(start - TimeSpan.FromDays(1))}");

        Assert.Equal(0, s.GetProperty("traces").GetInt64());
        Assert.Equal(JsonValueKind.Null, s.GetProperty("error_rate").ValueKind);
        Assert.Equal(JsonValueKind.Null, s.GetProperty("acceptance_rate").ValueKind);
        Assert.Equal(JsonValueKind.Null, s.GetProperty("latency_ms").GetProperty("p95").ValueKind);
        Assert.Equal(JsonValueKind.Null, s.GetProperty("human_score").GetProperty("mean").ValueKind);
        Assert.Empty(s.GetProperty("human_score").GetProperty("distribution").EnumerateArray());
    }

    [Fact]
    public async Task TimeSeries_GivesASeriesPerGroup_WithPointsPerBucket()
    {
        var (api, _, start, _) = await TeamWithTracesAsync();
        app.Clock.Advance(TimeSpan.FromMinutes(1));
        await RollUpAsync();
        var range = $"from={Iso(start)}&to={Iso(start + TimeSpan.FromHours(1))}";

        var byModel = await api.GetJsonAsync($"/api/v1/analytics/timeseries?metric=traces&interval=minute&group_by=model&{range}");

        Assert.Equal(("traces", "minute"), (byModel.GetProperty("metric").GetString(), byModel.GetProperty("interval").GetString()));
        var series = byModel.GetProperty("series").EnumerateArray().ToDictionary(s => s.GetProperty("group").GetString()!, s => s.GetProperty("points"));
        Assert.Equal(["claude", "gpt-4o"], series.Keys.Order(StringComparer.Ordinal));
        Assert.Equal([start, start + TimeSpan.FromMinutes(1)], series["gpt-4o"].EnumerateArray().Select(p => p.GetProperty("t").GetDateTimeOffset()));
        Assert.All(series["gpt-4o"].EnumerateArray(), p => Assert.Equal((1, 1), (p.GetProperty("value").GetDouble(), p.GetProperty("n").GetInt64())));

        var rate = await api.GetJsonAsync($"/api/v1/analytics/timeseries?metric=error_rate&{range}");
        Assert.Equal("minute", rate.GetProperty("interval").GetString());
        var points = Assert.Single(rate.GetProperty("series").EnumerateArray()).GetProperty("points").EnumerateArray().ToList();
        Assert.Equal([0.0, 1.0, 0.0, 0.0], points.Select(p => p.GetProperty("value").GetDouble()));

        var byRegion = await api.GetJsonAsync($"/api/v1/analytics/timeseries?metric=latency_p95&interval=hour&group_by=metadata&metadata_key=region&{range}");
        Assert.Equal(["eu", "us"], byRegion.GetProperty("series").EnumerateArray().Select(s => s.GetProperty("group").GetString()).Order(StringComparer.Ordinal));
        Assert.All(byRegion.GetProperty("series").EnumerateArray(), s => Assert.Equal(JsonValueKind.Null, s.GetProperty("stack").ValueKind));
    }

    [Fact]
    public async Task TimeSeries_ByTwoDimensions_GivesASeriesPerGroupAndStack()
    {
        var (api, _, start, _) = await TeamWithTracesAsync();
        app.Clock.Advance(TimeSpan.FromMinutes(1));
        await RollUpAsync();
        var range = $"from={Iso(start)}&to={Iso(start + TimeSpan.FromHours(1))}";

        // Model (a rollup dimension) stacked by region (a metadata key: read from the traces).
        var stacked = await api.GetJsonAsync($"/api/v1/analytics/timeseries?metric=traces&interval=hour&group_by=model,metadata&metadata_key=region&{range}");

        var series = stacked.GetProperty("series").EnumerateArray()
            .Select(s => (Group: s.GetProperty("group").GetString(), Stack: s.GetProperty("stack").GetString(),
                Traces: s.GetProperty("points").EnumerateArray().Sum(p => p.GetProperty("value").GetDouble())))
            .OrderBy(s => s.Group, StringComparer.Ordinal).ThenBy(s => s.Stack, StringComparer.Ordinal).ToList();
        Assert.Equal([("claude", "eu", 2.0), ("gpt-4o", "eu", 1.0), ("gpt-4o", "us", 1.0)], series);

        // Two rollup dimensions, and a trace sent now (past the live edge) counts at once.
        await api.PostTraceAsync(new { user_input = "q", response = "a", model = "gpt-4o", environment = "prod" });
        var now = await api.GetJsonAsync("/api/v1/analytics/timeseries?metric=traces&interval=hour&group_by=model,environment");
        var pairs = now.GetProperty("series").EnumerateArray()
            .Select(s => (s.GetProperty("group").GetString(), s.GetProperty("stack").GetString(), s.GetProperty("points").EnumerateArray().Sum(p => p.GetProperty("value").GetDouble())))
            .ToHashSet();
        Assert.Contains(("gpt-4o", "prod", 1.0), pairs);
        Assert.Contains(("gpt-4o", (string?)null, 2.0), pairs);
        Assert.Contains(("claude", (string?)null, 2.0), pairs);
    }

    [Theory]
    [InlineData("/api/v1/analytics/summary?from=yesterday", "from")]
    [InlineData("/api/v1/analytics/summary?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z", "to")]
    [InlineData("/api/v1/analytics/summary?from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z", "from")]
    [InlineData("/api/v1/analytics/timeseries?metric=vibes", "metric")]
    [InlineData("/api/v1/analytics/timeseries", "metric")]
    [InlineData("/api/v1/analytics/timeseries?metric=traces&interval=week", "interval")]
    [InlineData("/api/v1/analytics/timeseries?metric=traces&interval=minute&from=2026-01-01T00:00:00Z&to=2026-01-30T00:00:00Z", "interval")]
    [InlineData("/api/v1/analytics/timeseries?metric=traces&group_by=colour", "group_by")]
    [InlineData("/api/v1/analytics/timeseries?metric=traces&group_by=metadata", "metadata_key")]
    [InlineData("/api/v1/analytics/timeseries?metric=traces&top=0", "top")]
    [InlineData("/api/v1/analytics/timeseries?metric=traces&group_by=model,colour", "group_by")]
    [InlineData("/api/v1/analytics/timeseries?metric=traces&group_by=model,model", "group_by")]
    [InlineData("/api/v1/analytics/timeseries?metric=traces&group_by=model,environment,provider", "group_by")]
    [InlineData("/api/v1/analytics/timeseries?metric=traces&group_by=model,", "group_by")]
    public async Task BadInput_Is400_NamingTheField(string url, string field)
    {
        var (api, _) = await ApiClient.ForNewTeamAsync(app, ApiKeyScopes.Read);

        var response = await api.Http.GetAsync(url);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
    }

    [Theory]
    [InlineData("/api/v1/analytics/summary")]
    [InlineData("/api/v1/analytics/timeseries?metric=traces")]
    public async Task WithoutAKey_401_AndWithoutReadScope_403(string url)
    {
        using var anonymous = app.CreateClient();
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync(url)).StatusCode);

        var (ingestOnly, _) = await ApiClient.ForNewTeamAsync(app, ApiKeyScopes.Ingest);
        Assert.Equal(HttpStatusCode.Forbidden, (await ingestOnly.Http.GetAsync(url)).StatusCode);
    }

    [Fact]
    public async Task AnotherTeamsKey_SeesNoneOfTheTraces()
    {
        await TeamWithTracesAsync();
        app.Clock.Advance(TimeSpan.FromMinutes(1));
        await RollUpAsync();
        var (other, _) = await ApiClient.ForNewTeamAsync(app, ApiKeyScopes.Read);

        Assert.Equal(0, (await other.GetJsonAsync("/api/v1/analytics/summary")).GetProperty("traces").GetInt64());
        foreach (var by in new[] { "model", "user_id", "tag", "environment" })
        {
            Assert.Empty((await other.GetJsonAsync($"/api/v1/analytics/timeseries?metric=traces&group_by={by}")).GetProperty("series").EnumerateArray());
        }
    }
}

public sealed class AnalyticsApiPostgresTests(ClockedPostgresAppFactory app) : AnalyticsApiTests(app), IClassFixture<ClockedPostgresAppFactory>;

public sealed class AnalyticsApiSqliteTests(ClockedSqliteAppFactory app) : AnalyticsApiTests(app), IClassFixture<ClockedSqliteAppFactory>;
