using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using EvalPlatform.Core.Common;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Providers;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Data.Identity;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

// The recording proxy's added latency (ADR 30): the same requests to a local fake OpenAI upstream, directly and through
// the proxy, interleaved one by one so both see the same machine; median and p99 of each and of the difference, for a
// whole answer and for the first token of a stream. The app runs in process on a real Kestrel port with SQLite (or the
// PostgreSQL of EVALPLATFORM_TEST_POSTGRES when set), recording every proxied call as a trace as in production.
internal static class ProxyBench
{
    public static async Task<int> Main(string[] args)
    {
        CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
        CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
        var requests = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 2000;
        var warmup = Math.Max(50, requests / 10);

        const string UpstreamKey = "sk-bench-upstream-0001";
        await using var upstream = await FakeUpstream.StartAsync(UpstreamKey);
        var folder = Directory.CreateTempSubdirectory("proxybench-").FullName;
        await using var app = new BenchApp(Path.Combine(folder, "eval.db"));
        app.Start();

        var (key, teamId) = await app.CreateTeamAsync();
        await app.AddConnectionAsync(teamId, upstream.BaseUrl, UpstreamKey);

        using var http = new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(10) });
        var direct = new Uri($"{upstream.BaseUrl}/chat/completions");
        var proxied = new Uri(app.Address, "/proxy/openai/v1/chat/completions");
        const string Body = """{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Where is my order 1234?"}],"temperature":0.2}""";
        const string StreamBody = """{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Where is my order 1234?"}]}""";

        async Task<double> WholeAsync(Uri url, string bearer)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new StringContent(Body, Encoding.UTF8, "application/json") };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
            var start = Stopwatch.GetTimestamp();
            using var response = await http.SendAsync(request);
            _ = await response.Content.ReadAsByteArrayAsync();
            var ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            return response.IsSuccessStatusCode ? ms : throw new InvalidOperationException($"{url}: {(int)response.StatusCode}");
        }

        async Task<double> FirstTokenAsync(Uri url, string bearer)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new StringContent(StreamBody, Encoding.UTF8, "application/json") };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
            var start = Stopwatch.GetTimestamp();
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            await using var stream = await response.Content.ReadAsStreamAsync();
            var buffer = new byte[8192];
            var seen = new StringBuilder();
            double? first = null;
            int n;
            while ((n = await stream.ReadAsync(buffer)) > 0)
            {
                seen.Append(Encoding.UTF8.GetString(buffer, 0, n));
                if (first is null && seen.ToString().Contains("\"content\":\"", StringComparison.Ordinal))
                {
                    first = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                }
            }

            return first ?? throw new InvalidOperationException($"{url}: no content in the stream");
        }

        async Task<(List<double> Direct, List<double> Proxy)> SideBySideAsync(Func<Uri, string, Task<double>> measure, int count)
        {
            var d = new List<double>(count);
            var p = new List<double>(count);
            for (var i = 0; i < count; i++)
            {
                // Alternate which goes first, so neither always meets a warmer machine.
                if (i % 2 == 0)
                {
                    d.Add(await measure(direct, UpstreamKey));
                    p.Add(await measure(proxied, key));
                }
                else
                {
                    p.Add(await measure(proxied, key));
                    d.Add(await measure(direct, UpstreamKey));
                }
            }

            return (d, p);
        }

        Console.WriteLine($"proxy bench: {requests} requests each way after {warmup} warm-up, {Environment.ProcessorCount} cores, SQLite, fake upstream on loopback");
        await SideBySideAsync(WholeAsync, warmup);
        var whole = await SideBySideAsync(WholeAsync, requests);
        await SideBySideAsync(FirstTokenAsync, warmup);
        var ttft = await SideBySideAsync(FirstTokenAsync, requests);
        // Recording runs in the background: wait (at most a minute) until every call is a trace, and say how long that took.
        var expected = 2 * (requests + warmup);
        var drain = Stopwatch.StartNew();
        var traces = await app.CountTracesAsync(teamId);
        while (traces < expected && drain.Elapsed < TimeSpan.FromMinutes(1))
        {
            await Task.Delay(100);
            traces = await app.CountTracesAsync(teamId);
        }

        Report("non-streamed, whole answer", whole.Direct, whole.Proxy, "median < 1 ms, p99 < 5 ms");
        Report("streamed, time to first token", ttft.Direct, ttft.Proxy, "< 2 ms");
        Console.WriteLine($"traces recorded: {traces} (expected {expected}), the last {drain.Elapsed.TotalMilliseconds:0} ms after the last answer");
        Directory.Delete(folder, recursive: true);
        return 0;

        static void Report(string what, List<double> direct, List<double> proxy, string target)
        {
            var added = direct.Zip(proxy, (d, p) => p - d).ToList();
            Console.WriteLine($"{what}:");
            Console.WriteLine($"  direct  median {Percentile(direct, 0.5):0.000} ms   p99 {Percentile(direct, 0.99):0.000} ms");
            Console.WriteLine($"  proxied median {Percentile(proxy, 0.5):0.000} ms   p99 {Percentile(proxy, 0.99):0.000} ms");
            Console.WriteLine($"  added   median {Percentile(proxy, 0.5) - Percentile(direct, 0.5):0.000} ms   p99 {Percentile(proxy, 0.99) - Percentile(direct, 0.99):0.000} ms" +
                $"   (pairwise: median {Percentile(added, 0.5):0.000} ms, p99 {Percentile(added, 0.99):0.000} ms; target {target})");
        }

        static double Percentile(List<double> values, double q)
        {
            var sorted = values.Order().ToList();
            var rank = q * (sorted.Count - 1);
            var lo = (int)Math.Floor(rank);
            var hi = Math.Min(lo + 1, sorted.Count - 1);
            return sorted[lo] + ((sorted[hi] - sorted[lo]) * (rank - lo));
        }
    }
}

/// <summary>The app in process on a real Kestrel port, as the tests host it.</summary>
internal sealed class BenchApp(string sqlitePath) : WebApplicationFactory<Program>
{
    public Uri Address { get; private set; } = default!;

    public void Start()
    {
        UseKestrel(0);
        StartServer();
        var address = Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        Address = new Uri(address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal).Replace("localhost", "127.0.0.1", StringComparison.Ordinal));
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        var postgres = Environment.GetEnvironmentVariable("EVALPLATFORM_PROXYBENCH_POSTGRES");
        builder.UseEnvironment("Development");
        builder.UseSetting("ConnectionStrings:Postgres", postgres ?? "");
        builder.UseSetting("ConnectionStrings:Sqlite", postgres is null ? $"Data Source={sqlitePath}" : "");
        builder.UseSetting("ConnectionStrings:Redis", "");
        builder.UseSetting("Jobs:SchedulerName", $"ProxyBench-{Guid.NewGuid():N}");
        builder.UseSetting("Outbound:AllowPrivateTargets", "true");
        builder.ConfigureLogging(l => l.SetMinimumLevel(LogLevel.Warning));
    }

    public async Task<(string Key, Guid TeamId)> CreateTeamAsync()
    {
        await using var scope = Services.CreateAsyncScope();
        var users = scope.ServiceProvider.GetRequiredService<UserManager<ApplicationUser>>();
        var user = new ApplicationUser { UserName = "bench@example.test", Email = "bench@example.test", EmailConfirmed = true };
        var created = await users.CreateAsync(user, "correct horse battery staple");
        if (!created.Succeeded)
        {
            throw new InvalidOperationException(string.Join("; ", created.Errors.Select(e => e.Description)));
        }

        var team = await scope.ServiceProvider.GetRequiredService<TeamService>().CreateTeamAsync("proxy bench", user.Id);
        scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(team.Id, user.Id, TeamRole.Owner); // writes act for the team
        var key = await ApiKeyService.IssueAsync(scope.ServiceProvider.GetRequiredService<IEvalDbContextFactory>(), TimeProvider.System, team.Id, "bench", ApiKeyScopes.Ingest, createdBy: null);
        return (key.Key, team.Id);
    }

    public async Task AddConnectionAsync(Guid teamId, string baseUrl, string apiKey)
    {
        await using var scope = Services.CreateAsyncScope();
        scope.ServiceProvider.GetRequiredService<TeamContext>().SetJob(teamId, "proxy bench"); // writes act for the team
        var protector = scope.ServiceProvider.GetRequiredService<IProviderKeyProtector>();
        var now = TimeProvider.System.GetUtcNow();
        await using var db = await scope.ServiceProvider.GetRequiredService<IEvalDbContextFactory>().CreateAsync();
        db.ProviderConnections.Add(new ProviderConnection
        {
            Id = Uuid7.Create(now), TeamId = teamId, Kind = ProviderKind.OpenAi, Name = "fake", BaseUrl = baseUrl,
            ProtectedApiKey = protector.Protect(teamId, apiKey), KeyHint = apiKey[^4..], CreatedAt = now,
        });
        await db.SaveChangesAsync();
    }

    public async Task<int> CountTracesAsync(Guid teamId)
    {
        await using var scope = Services.CreateAsyncScope();
        await using var db = await scope.ServiceProvider.GetRequiredService<IEvalDbContextFactory>().CreateAsync();
        return await db.Traces.IgnoreQueryFilters().CountAsync(t => t.TeamId == teamId); // the bench's one team, outside any team scope
    }
}

/// <summary>A minimal OpenAI chat completions upstream on loopback: a fixed answer, or the same as 8 streamed chunks.</summary>
internal sealed class FakeUpstream : IAsyncDisposable
{
    private const string Answer = """{"id":"chatcmpl-bench","object":"chat.completion","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"It shipped yesterday and arrives tomorrow."},"finish_reason":"stop"}],"usage":{"prompt_tokens":21,"completion_tokens":8,"total_tokens":29}}""";
    private static readonly string[] Pieces = ["It ", "shipped ", "yesterday ", "and ", "arrives ", "tomorrow", ".", ""];
    private WebApplication _app = default!;

    public string BaseUrl { get; private set; } = "";

    public static async Task<FakeUpstream> StartAsync(string key)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var fake = new FakeUpstream { _app = builder.Build() };
        fake._app.MapPost("/v1/chat/completions", async (HttpContext context) =>
        {
            if (context.Request.Headers.Authorization.ToString() != $"Bearer {key}")
            {
                context.Response.StatusCode = 401;
                return;
            }

            using var reader = new StreamReader(context.Request.Body);
            var body = await reader.ReadToEndAsync();
            if (!body.Contains("\"stream\":true", StringComparison.Ordinal))
            {
                context.Response.ContentType = "application/json";
                await context.Response.WriteAsync(Answer);
                return;
            }

            context.Response.ContentType = "text/event-stream";
            foreach (var piece in Pieces)
            {
                var chunk = $"{{\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o-mini\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{piece}\"}},\"finish_reason\":null}}]}}";
                await context.Response.WriteAsync($"data: {chunk}\n\n");
                await context.Response.Body.FlushAsync();
            }

            await context.Response.WriteAsync("data: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o-mini\",\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":8,\"total_tokens\":20}}\n\ndata: [DONE]\n\n");
        });
        await fake._app.StartAsync();
        fake.BaseUrl = fake._app.Urls.First().TrimEnd('/') + "/v1";
        return fake;
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
