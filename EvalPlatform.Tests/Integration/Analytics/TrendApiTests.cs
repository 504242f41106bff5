using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using EvalPlatform.Core.Analytics;
using EvalPlatform.Core.Teams;
using EvalPlatform.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace EvalPlatform.Tests.Integration.Analytics;

/// <summary>The app on a test clock (jobs off, see <see cref="ClockedAppFactory"/>) with its metrics read from memory.</summary>
public abstract class TrendAppFactory(TestDatabase database, bool redis) : ClockedAppFactory(database, redis)
{
    public InMemoryMetricsStore Metrics { get; } = new();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureTestServices(s =>
        {
            s.AddSingleton(Metrics);
            s.RemoveAll<IMetricsReader>();
            s.AddScoped<IMetricsReader, InMemoryMetricsReader>();
        });
    }
}

public sealed class TrendPostgresAppFactory() : TrendAppFactory(TestDatabase.Postgres, redis: true);

public sealed class TrendSqliteAppFactory() : TrendAppFactory(TestDatabase.Sqlite, redis: false);

/// <summary>
/// <c>GET /api/v1/analytics/trends</c>: findings as snake_case data, the default report as the hourly job cached it per
/// team (through Redis on PostgreSQL), bad parameters named, and the key's scope enforced.
/// </summary>
public abstract class TrendApiTests(TrendAppFactory app)
{
    private const string Trends = "/api/v1/analytics/trends";

    /// <summary>
    /// gpt-4o reviews in one hour every 12 hours over the last 7 days: 135 decided in each half, 123 accepted in the
    /// first (91 %) and 105 in the second (78 %).
    /// </summary>
    private void AddAcceptanceDrop(Guid teamId, DateTimeOffset start)
    {
        int[] decided = [19, 19, 19, 19, 19, 20, 20];
        int[] accepted = [17, 17, 17, 17, 17, 19, 19, 15, 15, 15, 15, 15, 15, 15];
        for (var i = 0; i < 14; i++)
        {
            var n = decided[i % 7];
            app.Metrics.Add(teamId, start.AddHours((12 * i) + 5), "gpt-4o", new MetricAggregate { Traces = n, Accepted = accepted[i], Rejected = n - accepted[i] });
        }
    }

    private DateTimeOffset WeekAgo => MetricInterval.Hour.Floor(app.Clock.GetUtcNow()) - TimeSpan.FromDays(7);

    private static string Iso(DateTimeOffset t) => Uri.EscapeDataString(t.ToString("O", System.Globalization.CultureInfo.InvariantCulture));

    private static async Task<JsonElement> ProblemAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    [Fact]
    public async Task Trends_ForARange_AreSentencesAndSnakeCaseData()
    {
        var (client, team) = await ApiClient.ForNewTeamAsync(app, ApiKeyScopes.Read);
        using var disposeClient = client;
        AddAcceptanceDrop(team.Id, WeekAgo);
        var to = MetricInterval.Hour.Floor(app.Clock.GetUtcNow());

        var body = await client.GetJsonAsync($"{Trends}?from={Iso(to.AddDays(-7))}&to={Iso(to)}&model=gpt-4o");

        Assert.Equal(to.AddDays(-7), body.GetProperty("from").GetDateTimeOffset());
        Assert.Equal(to, body.GetProperty("to").GetDateTimeOffset());
        Assert.Equal(app.Clock.GetUtcNow(), body.GetProperty("computed_at").GetDateTimeOffset());
        var finding = body.GetProperty("findings").EnumerateArray()
            .Single(f => f.GetProperty("kind").GetString() == "week_over_week" && f.GetProperty("group").GetString() == "gpt-4o");
        Assert.Equal("acceptance_rate", finding.GetProperty("metric").GetString());
        Assert.Equal("Acceptance rate for gpt-4o fell from 91 % to 78 % in the last 3.5 days against the 3.5 days before (p = 0.003)",
            finding.GetProperty("sentence").GetString());
        Assert.True(finding.GetProperty("worse").GetBoolean());
        Assert.Equal(0.0025072, finding.GetProperty("p_value").GetDouble(), 6);
        Assert.Equal(123.0 / 135, finding.GetProperty("before").GetDouble(), 9);
        Assert.Equal(105.0 / 135, finding.GetProperty("after").GetDouble(), 9);
        foreach (var field in new[] { "slope", "slope_low", "slope_high", "at" })
        {
            Assert.Equal(JsonValueKind.Null, finding.GetProperty(field).ValueKind);
        }

        Assert.Equal(JsonValueKind.Number, finding.GetProperty("score").ValueKind);

        // The model filter reaches the metrics: another model has nothing.
        var other = await client.GetJsonAsync($"{Trends}?from={Iso(to.AddDays(-7))}&to={Iso(to)}&model=claude");
        Assert.Empty(other.GetProperty("findings").EnumerateArray());
    }

    [Fact]
    public async Task Trends_Default_IsTheReportTheHourlyJobCachedForEachTeam()
    {
        var (clientA, teamA) = await ApiClient.ForNewTeamAsync(app, ApiKeyScopes.Read);
        var (clientB, _) = await ApiClient.ForNewTeamAsync(app, ApiKeyScopes.Read);
        using var a = clientA;
        using var b = clientB;
        AddAcceptanceDrop(teamA.Id, WeekAgo);
        var refreshedAt = app.Clock.GetUtcNow();

        var run = await app.Services.GetRequiredService<TrendRefresher>().RefreshAllAsync();
        Assert.Equal(0, run.Failed);
        Assert.True(run.Teams >= 2);

        // The metrics change and time passes: the default still is the job's report, until the next run.
        app.Metrics.Clear(teamA.Id);
        app.Clock.Advance(TimeSpan.FromMinutes(10));
        var cached = await clientA.GetJsonAsync(Trends);
        Assert.Equal(refreshedAt, cached.GetProperty("computed_at").GetDateTimeOffset());
        Assert.Contains(cached.GetProperty("findings").EnumerateArray(), f => f.GetProperty("sentence").GetString()
            == "Acceptance rate for gpt-4o fell from 91 % to 78 % in the last 3.5 days against the 3.5 days before (p = 0.003)");

        // Any parameter computes now.
        var fresh = await clientA.GetJsonAsync($"{Trends}?to={Iso(app.Clock.GetUtcNow())}");
        Assert.Empty(fresh.GetProperty("findings").EnumerateArray());

        // Team B's default is its own.
        var other = await clientB.GetJsonAsync(Trends);
        Assert.Empty(other.GetProperty("findings").EnumerateArray());
        Assert.Equal(refreshedAt, other.GetProperty("computed_at").GetDateTimeOffset());
    }

    [Fact]
    public async Task Trends_WithoutAKey_Is401()
    {
        using var anonymous = app.CreateClient();
        await ProblemAsync(await anonymous.GetAsync(Trends), HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task Trends_WithAnIngestOnlyKey_Is403()
    {
        var (client, _) = await ApiClient.ForNewTeamAsync(app, ApiKeyScopes.Ingest);
        using var disposeClient = client;
        await ProblemAsync(await client.Http.GetAsync(Trends), HttpStatusCode.Forbidden);
    }

    [Theory]
    [InlineData("from=yesterday", "from")]
    [InlineData("to=2026-13-45", "to")]
    [InlineData("from=2026-11-10T00:00:00Z&to=2026-11-09T00:00:00Z", "to")]
    [InlineData("from=2024-01-01T00:00:00Z&to=2026-01-01T00:00:00Z", "from")]
    public async Task Trends_BadParameters_Are400NamingTheField(string query, string field)
    {
        var (client, _) = await ApiClient.ForNewTeamAsync(app, ApiKeyScopes.Read);
        using var disposeClient = client;

        var problem = await ProblemAsync(await client.Http.GetAsync($"{Trends}?{query}"), HttpStatusCode.BadRequest);

        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
    }

    [Fact]
    public async Task Trends_OverlongFilter_Is400NamingIt()
    {
        var (client, _) = await ApiClient.ForNewTeamAsync(app, ApiKeyScopes.Read);
        using var disposeClient = client;

        var problem = await ProblemAsync(await client.Http.GetAsync($"{Trends}?model={new string('m', 201)}"), HttpStatusCode.BadRequest);

        Assert.True(problem.GetProperty("errors").TryGetProperty("model", out _));
    }
}

public sealed class PostgresTrendApiTests(TrendPostgresAppFactory app) : TrendApiTests(app), IClassFixture<TrendPostgresAppFactory>;

public sealed class SqliteTrendApiTests(TrendSqliteAppFactory app) : TrendApiTests(app), IClassFixture<TrendSqliteAppFactory>;
