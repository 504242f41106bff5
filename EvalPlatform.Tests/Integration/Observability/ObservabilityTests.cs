using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.RegularExpressions;
using EvalPlatform.Core.Jobs;
using EvalPlatform.Core.Live;
using EvalPlatform.Tests.Infrastructure;
using EvalPlatform.Web.Jobs;
using EvalPlatform.Web.Observability;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace EvalPlatform.Tests.Integration.Observability;

/// <summary>
/// A local OTLP/http collector: records what each signal's path received (content type and size). An HttpListener, not
/// an ASP.NET Core host: a second host in the process would publish its own "http.server.request.duration".
/// </summary>
public sealed class FakeOtlpCollector : IDisposable
{
    private readonly HttpListener _listener = new();

    private FakeOtlpCollector(int port)
    {
        Address = new Uri($"http://127.0.0.1:{port}/");
        _listener.Prefixes.Add(Address.ToString());
    }

    public ConcurrentQueue<(string Path, string? ContentType, long Bytes)> Received { get; } = new();

    public Uri Address { get; }

    public static FakeOtlpCollector Start()
    {
        var probe = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        var collector = new FakeOtlpCollector(port);
        collector._listener.Start();
        _ = Task.Run(collector.ServeAsync);
        return collector;
    }

    private async Task ServeAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            using var body = new MemoryStream();
            await context.Request.InputStream.CopyToAsync(body);
            Received.Enqueue((context.Request.Url!.AbsolutePath, context.Request.ContentType, body.Length));
            context.Response.StatusCode = 200;
            context.Response.Close();
        }
    }

    public void Dispose() => _listener.Close();
}

/// <summary>The app on PostgreSQL and Redis with the scrape endpoint on (behind a token) and OTLP export to a fake collector.</summary>
public sealed class ObservedAppFactory() : EvalAppFactory(TestDatabase.Postgres, redis: true)
{
    public const string Token = "scrape-token-for-tests";

    public FakeOtlpCollector Collector { get; private set; } = default!;

    public override async Task InitializeAsync()
    {
        Collector = FakeOtlpCollector.Start();
        await base.InitializeAsync();
        // The collector goes with the app (the factory's own disposal is not overridable here).
        Services.GetRequiredService<Microsoft.Extensions.Hosting.IHostApplicationLifetime>().ApplicationStopped.Register(Collector.Dispose);
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.UseSetting("Observability:PrometheusEnabled", "true");
        builder.UseSetting("Observability:PrometheusToken", Token);
        builder.UseSetting("Observability:OtlpEndpoint", Collector.Address.ToString());
        // Export often, so the test sees an export in well under a second rather than after the default minute.
        builder.UseSetting("OTEL_METRIC_EXPORT_INTERVAL", "200");
        builder.UseSetting("OTEL_BSP_SCHEDULE_DELAY", "100");
    }

    /// <summary>The scrape output (with the token).</summary>
    public async Task<string> ScrapeAsync()
    {
        using var http = CreateClient();
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token);
        using var response = await http.GetAsync(ObservabilityExtensions.MetricsPath);
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadAsStringAsync();
    }

    /// <summary>The sum of a series' samples whose labels contain every one of <paramref name="labels"/> (0 when absent).</summary>
    public static double Sum(string scrape, string series, params string[] labels)
    {
        var total = 0d;
        foreach (Match m in Regex.Matches(scrape, "^" + Regex.Escape(series) + @"(\{[^}]*\})? (\S+)", RegexOptions.Multiline))
        {
            if (labels.All(l => m.Groups[1].Value.Contains(l, StringComparison.Ordinal)))
            {
                total += double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture);
            }
        }

        return total;
    }
}

/// <summary>
/// Metric listeners are process-wide: another app host in the test process, starting or stopping, publishes or completes
/// instruments of the same names under the scraped host's exporter. These tests run alone.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ObservabilityCollection
{
    public const string Name = "Observability (alone)";
}

/// <summary>The platform's own metrics (ADR 48): scraped, exported over OTLP, and what the Grafana dashboard queries.</summary>
[Collection(ObservabilityCollection.Name)]
public sealed class ObservabilityTests(ObservedAppFactory app) : IClassFixture<ObservedAppFactory>
{
    [Fact]
    public async Task Scrape_WithoutTheToken_IsRefused()
    {
        using var http = app.CreateClient();
        using var anonymous = await http.GetAsync(ObservabilityExtensions.MetricsPath);
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "wrong");
        using var wrong = await http.GetAsync(ObservabilityExtensions.MetricsPath);
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
    }

    [Fact]
    public async Task Scrape_AfterIngestingATrace_ShowsTheIngestionCountersMove_AndCarriesNoTeam()
    {
        var before = ObservedAppFactory.Sum(await app.ScrapeAsync(), "evalplatform_ingestion_traces_total");
        var (api, team) = await ApiClient.ForNewTeamAsync(app);
        using (api)
        {
            using var response = await api.PostJsonAsync("/api/v1/traces", new { user_input = "hello", response = "world", name = "observed" });
            Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        }

        string scrape = "";
        await Wait.UntilAsync(async () =>
        {
            scrape = await app.ScrapeAsync();
            // ASP.NET Core records the request once its response is complete: after the client has its answer.
            return ObservedAppFactory.Sum(scrape, "evalplatform_ingestion_traces_total") >= before + 1
                && ObservedAppFactory.Sum(scrape, "http_server_request_duration_seconds_count", "http_route=\"/api/v1/traces/\"", "http_request_method=\"POST\"")
                 + ObservedAppFactory.Sum(scrape, "http_server_request_duration_seconds_count", "http_route=\"/api/v1/traces\"", "http_request_method=\"POST\"") >= 1;
        }, "the stored-traces counter and ASP.NET Core's HTTP server metrics to count the trace and its POST", onTimeout: () => Lines(scrape, "evalplatform_ingestion_traces", "http_server_request_duration_seconds_count"));
        Assert.True(ObservedAppFactory.Sum(scrape, "evalplatform_ingestion_commit_duration_seconds_count", "outcome=\"stored\"") >= 1);
        Assert.Contains("evalplatform_ingestion_queue_requests", scrape, StringComparison.Ordinal);
        Assert.DoesNotContain(team.Id.ToString(), scrape, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(team.Id.ToString("N"), scrape, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Scrape_AfterAJobRun_CountsTheRunByJobAndOutcome()
    {
        const string series = "evalplatform_jobs_runs_total";
        var label = $"job=\"{JobRunPurgeJob.Key}\"";
        var before = ObservedAppFactory.Sum(await app.ScrapeAsync(), series, label, "outcome=\"succeeded\"");
        await app.Services.GetRequiredService<IJobRunner>().RunNowAsync(JobRunPurgeJob.Key);
        string scrape = "";
        await Wait.UntilAsync(async () =>
        {
            scrape = await app.ScrapeAsync();
            return ObservedAppFactory.Sum(scrape, series, label, "outcome=\"succeeded\"") >= before + 1;
        }, "the job run to be counted", onTimeout: () => Lines(scrape, "evalplatform_jobs"));
        Assert.True(ObservedAppFactory.Sum(scrape, "evalplatform_jobs_duration_seconds_count", label) >= 1);
    }

    [Fact]
    public async Task OtlpExport_SendsMetricsAndSpansAsHttpProtobuf_ToTheConfiguredCollector()
    {
        using (var http = app.CreateClient())
        {
            using var _ = await http.GetAsync("/health/live");
        }

        await Wait.UntilAsync(() => app.Collector.Received.Any(r => r.Path == "/v1/metrics") && app.Collector.Received.Any(r => r.Path == "/v1/traces"),
            "an OTLP export of metrics and of spans");
        Assert.All(app.Collector.Received, r =>
        {
            Assert.Equal("application/x-protobuf", r.ContentType);
            Assert.True(r.Bytes > 0);
        });
    }

    [Fact]
    public async Task GrafanaDashboard_QueriesOnlyMetricsTheScrapeHas()
    {
        // Make every instrument report once: a trace stored and heard live by a page, a job run, the outbox looked at, a
        // cached read.
        var (api, team) = await ApiClient.ForNewTeamAsync(app);
        var heard = new TaskCompletionSource();
        using var subscription = app.Services.GetRequiredService<ILiveBus>().Subscribe(team.Id, _ =>
        {
            heard.TrySetResult();
            return Task.CompletedTask;
        });
        using (api)
        {
            using var response = await api.PostJsonAsync("/api/v1/traces", new { user_input = "hello", response = "world" });
            Assert.Equal(HttpStatusCode.Created, response.StatusCode);
            using var read = await api.Http.GetAsync("/api/v1/traces");
            Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        }

        await heard.Task.WaitAsync(TimeSpan.FromSeconds(30));
        await app.Services.GetRequiredService<IJobRunner>().RunNowAsync(NotificationDeliveryJob.Key);
        await app.Services.GetRequiredService<IJobRunner>().RunNowAsync(JobRunPurgeJob.Key);

        var queried = QueriedMetrics();
        Assert.Contains("evalplatform_ingestion_traces_total", queried);
        Assert.True(queried.Count >= 10, "the dashboard queries " + string.Join(", ", queried));
        var missing = queried.ToList();
        await Wait.UntilAsync(async () =>
        {
            var scrape = await app.ScrapeAsync();
            missing = queried.Where(m => !Regex.IsMatch(scrape, "^" + Regex.Escape(m) + @"[{ ]", RegexOptions.Multiline)).ToList();
            return missing.Count == 0;
        }, "every metric of docs/grafana/evalplatform.json in the scrape; missing: " + string.Join(", ", missing));
    }

    private static string Lines(string scrape, params string[] prefixes) =>
        string.Join("\n", scrape.Split('\n').Where(l => prefixes.Any(p => l.StartsWith(p, StringComparison.Ordinal))).Take(40));

    /// <summary>Every metric name in the dashboard's queries.</summary>
    private static HashSet<string> QueriedMetrics()
    {
        using var dashboard = JsonDocument.Parse(File.ReadAllText(Path.Combine(RepositoryRoot(), "docs", "grafana", "evalplatform.json")));
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var panel in dashboard.RootElement.GetProperty("panels").EnumerateArray())
        {
            foreach (var target in panel.GetProperty("targets").EnumerateArray())
            {
                foreach (Match m in Regex.Matches(target.GetProperty("expr").GetString()!, @"\b(evalplatform_[a-z_]+|http_server_[a-z_]+)\b"))
                {
                    names.Add(m.Value);
                }
            }
        }

        return names;
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "EvalPlatform.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"No EvalPlatform.sln above {AppContext.BaseDirectory}: run the tests from the repository's build output.");
    }
}
