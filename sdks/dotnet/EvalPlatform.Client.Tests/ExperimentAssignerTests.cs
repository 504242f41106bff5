using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace EvalPlatform.Client.Tests;

/// <summary>GrowthBook's v2 hash and ranges, and assignment from the cached definitions against a fake platform.</summary>
public sealed class ExperimentAssignerTests : IDisposable
{
    private const string Checkout = """
        {"key":"checkout-test","seed":"checkout-test","hash_version":2,"unit":"user_id","coverage":0.9,"status":"running",
         "filters":{"environment":"production"},
         "variants":[{"key":"control","weight":0.5,"config":{"model":"gpt-4o-mini"}},
                     {"key":"b","weight":0.3,"config":{"model":"gpt-4o"}},
                     {"key":"c","weight":0.2,"config":{"model":"claude"}}]}
        """;

    private readonly FakePlatform _platform = new();
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 7, 5, 0, 0, TimeSpan.Zero));
    private readonly ListLogger _logger = new();
    private readonly List<string?> _ifNoneMatch = [];
    private string _definitions = $$"""{"experiments":[{{Checkout}}]}""";

    public ExperimentAssignerTests() =>
        // As the platform answers: a strong ETag of the content, max-age 30, and 304 for a match.
        _platform.Default = request =>
        {
            if (request.RequestUri!.AbsolutePath != "/api/v1/experiments/definitions")
            {
                return FakePlatform.Json(HttpStatusCode.Created, """{"items":[]}""");
            }

            var etag = $"\"{Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(_definitions)))[..16]}\"";
            var sent = request.Headers.TryGetValues("If-None-Match", out var values) ? values.Single() : null;
            lock (_ifNoneMatch)
            {
                _ifNoneMatch.Add(sent);
            }

            var response = sent == etag ? new HttpResponseMessage(HttpStatusCode.NotModified) : FakePlatform.Json(HttpStatusCode.OK, _definitions);
            response.Headers.ETag = new System.Net.Http.Headers.EntityTagHeaderValue(etag);
            response.Headers.CacheControl = new System.Net.Http.Headers.CacheControlHeaderValue { Private = true, MaxAge = TimeSpan.FromSeconds(30) };
            return response;
        };

    public void Dispose() => _platform.Dispose();

    private ExperimentAssigner Assigner(HttpMessageHandler? handler = null, Uri? endpoint = null) => new(
        new HttpClient(handler ?? _platform),
        new EvalPlatformOptions { Endpoint = endpoint ?? new Uri("http://platform.test/"), ApiKey = "ep_key", RequestTimeout = TimeSpan.FromSeconds(5) },
        _logger,
        _time);

    private int DefinitionRequests => _platform.Requests.Count(r => r.Uri.AbsolutePath == "/api/v1/experiments/definitions");

    [Theory]
    // Computed with @growthbook/growthbook 1.8.0 (the shared reference's table).
    [InlineData("checkout-test", "user-1", 0.6947)]
    [InlineData("checkout-test", "user-2", 0.472)]
    [InlineData("checkout-test", "42", 0.8101)]
    [InlineData("prompt-v2", "session-abc", 0.687)]
    [InlineData("prompt-v2", "usér-é", 0.2465)]
    [InlineData("prompt-v2", "id-😀", 0.1595)]
    public void HashV2_MatchesGrowthBook(string seed, string id, double expected) =>
        Assert.Equal(expected, GrowthBookHash.HashV2(seed, id), 12);

    [Fact]
    public void Fnv1a32_RunsOverUtf16CodeUnits()
    {
        // FNV-1a's published test vector: "a" -> 0xe40c292c; an emoji is a surrogate pair, two units.
        Assert.Equal(0xe40c292cu, GrowthBookHash.Fnv1a32("a"));
        Assert.Equal(0x811c9dc5u, GrowthBookHash.Fnv1a32(""));
        var h = 0x811c9dc5u;
        foreach (var unit in new uint[] { 0xd83d, 0xde00 })
        {
            h = unchecked((h ^ unit) * 16777619u);
        }

        Assert.Equal(h, GrowthBookHash.Fnv1a32("😀"));
    }

    [Fact]
    public void BucketRanges_AndChoices_MatchTheReference()
    {
        var ranges = GrowthBookHash.BucketRanges(3, 0.9, [0.5, 0.3, 0.2]);
        (double, double)[] expected = [(0, 0.45), (0.5, 0.77), (0.8, 0.98)];
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(expected[i].Item1, ranges[i].Start, 12);
            Assert.Equal(expected[i].Item2, ranges[i].End, 12);
        }

        var chosen = new[] { "user-1", "user-2", "user-3", "user-4", "user-5", "usér-é" }
            .Select(u => GrowthBookHash.ChooseVariant(GrowthBookHash.HashV2("checkout-test", u), ranges)).ToArray();
        Assert.Equal([1, -1, 1, 2, -1, 1], chosen);

        Assert.Equal([(0, 0.5), (0.5, 1.0)], GrowthBookHash.BucketRanges(2, 1, [0.7, 0.7]));
        Assert.Equal([(0, 0.5), (0.5, 1.0)], GrowthBookHash.BucketRanges(2, 7, null));
        Assert.Equal([(0, 0), (0.5, 0.5)], GrowthBookHash.BucketRanges(2, -1, [0.5, 0.5]));
    }

    [Fact]
    public void AHundredThousandUnits_SplitByTheWeights()
    {
        // Each share within 4 standard errors of coverage × weight; the rest (10 %) is out.
        var ranges = GrowthBookHash.BucketRanges(3, 0.9, [0.5, 0.3, 0.2]);
        const int N = 100_000;
        var counts = new Dictionary<int, int>();
        for (var i = 0; i < N; i++)
        {
            var v = GrowthBookHash.ChooseVariant(GrowthBookHash.HashV2("checkout-test", $"user-{i}"), ranges);
            counts[v] = counts.GetValueOrDefault(v) + 1;
        }

        foreach (var (index, p) in new[] { (0, 0.45), (1, 0.27), (2, 0.18), (-1, 0.1) })
        {
            Assert.True(Math.Abs(((double)counts[index] / N) - p) < 4 * Math.Sqrt(p * (1 - p) / N), $"{index}: {counts[index]}");
        }
    }

    [Fact]
    public async Task AssignAsync_EvaluatesLocallyFromOneFetch()
    {
        using var assigner = Assigner();

        var one = await assigner.AssignAsync("checkout-test", "user-1");
        Assert.Equal(("checkout-test", "b", true), (one.Experiment, one.Variant, one.InExperiment));
        Assert.Equal("gpt-4o", one.Config!["model"]!.GetValue<string>());
        Assert.Equal(ExperimentAssignment.NotIn("checkout-test"), await assigner.AssignAsync("checkout-test", "user-2"));
        Assert.Equal("c", (await assigner.AssignAsync("checkout-test", "user-4")).Variant);
        Assert.Equal("b", (await assigner.AssignAsync("checkout-test", "usér-é")).Variant);
        var together = await Task.WhenAll(Enumerable.Range(1, 3).Select(i => assigner.AssignAsync("checkout-test", $"user-{i}")));
        Assert.Equal(["b", null, "b"], together.Select(a => a.Variant));

        Assert.Equal(1, DefinitionRequests);
        Assert.Equal("Bearer ep_key", _platform.Requests[0].Authorization);
        Assert.Equal("http://platform.test/api/v1/experiments/definitions", _platform.Requests[0].Uri.ToString());
    }

    [Fact]
    public async Task AssignAsync_UnknownOrNotRunningExperimentsAndEmptyIdsAreOut()
    {
        _definitions = $$"""{"experiments":[{{Checkout}},{{Checkout.Replace("\"checkout-test\",\"seed\"", "\"paused\",\"seed\"", StringComparison.Ordinal).Replace("running", "paused", StringComparison.Ordinal)}}]}""";
        using var assigner = Assigner();

        Assert.False((await assigner.AssignAsync("nope", "user-1")).InExperiment);
        Assert.False((await assigner.AssignAsync("paused", "user-1")).InExperiment);
        Assert.False((await assigner.AssignAsync("checkout-test", "")).InExperiment);
        Assert.False((await assigner.AssignAsync("checkout-test", null)).InExperiment);
        Assert.True((await assigner.AssignAsync("checkout-test", "user-1")).InExperiment);
    }

    [Fact]
    public async Task AssignAsync_ChecksFiltersAgainstAttributesWhenGiven()
    {
        using var assigner = Assigner();

        Assert.True((await assigner.AssignAsync("checkout-test", "user-1", new Dictionary<string, string> { ["environment"] = "production" })).InExperiment);
        Assert.False((await assigner.AssignAsync("checkout-test", "user-1", new Dictionary<string, string> { ["environment"] = "staging" })).InExperiment);
        Assert.False((await assigner.AssignAsync("checkout-test", "user-1", new Dictionary<string, string>())).InExperiment);
    }

    [Fact]
    public async Task AssignAsync_RevalidatesTheCopyWithItsETagAfterMaxAge()
    {
        using var assigner = Assigner();
        await assigner.AssignAsync("checkout-test", "user-1");
        _time.Advance(TimeSpan.FromSeconds(29));
        await assigner.AssignAsync("checkout-test", "user-1");
        Assert.Equal(1, DefinitionRequests);

        _time.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal("b", (await assigner.AssignAsync("checkout-test", "user-1")).Variant);
        Assert.Equal(2, DefinitionRequests);
        Assert.Null(_ifNoneMatch[0]);
        Assert.NotNull(_ifNoneMatch[1]);

        // New weights: a new ETag, a full answer, and local evaluation follows them.
        _definitions = _definitions.Replace("\"weight\":0.5", "\"weight\":1", StringComparison.Ordinal)
            .Replace("\"weight\":0.3", "\"weight\":0", StringComparison.Ordinal).Replace("\"weight\":0.2", "\"weight\":0", StringComparison.Ordinal);
        _time.Advance(TimeSpan.FromSeconds(31));
        Assert.Equal("control", (await assigner.AssignAsync("checkout-test", "user-1")).Variant);
        Assert.Equal(3, DefinitionRequests);
    }

    [Fact]
    public async Task AssignAsync_AnUnreachablePlatformGivesOutOfExperimentAndOneWarning()
    {
        int port;
        using (var listener = new TcpListener(IPAddress.Loopback, 0))
        {
            listener.Start();
            port = ((IPEndPoint)listener.LocalEndpoint).Port;
            listener.Stop();
        }

        using var assigner = Assigner(new SocketsHttpHandler(), new Uri($"http://127.0.0.1:{port}/"));
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(ExperimentAssignment.NotIn("checkout-test"), await assigner.AssignAsync("checkout-test", "user-1"));
        }

        _time.Advance(TimeSpan.FromSeconds(31));
        Assert.False((await assigner.AssignAsync("checkout-test", "user-1")).InExperiment);

        var warning = Assert.Single(_logger.Messages);
        Assert.Contains("experiment definitions", warning, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AssignAsync_ARefusingPlatformKeepsTheLastCopy()
    {
        using var assigner = Assigner();
        Assert.Equal("b", (await assigner.AssignAsync("checkout-test", "user-1")).Variant);
        _platform.Then(HttpStatusCode.ServiceUnavailable, """{"status":503,"title":"Unavailable"}""");
        _time.Advance(TimeSpan.FromSeconds(31));

        Assert.Equal("b", (await assigner.AssignAsync("checkout-test", "user-1")).Variant);
        Assert.Equal("b", (await assigner.AssignAsync("checkout-test", "user-1")).Variant);

        Assert.Contains("503", Assert.Single(_logger.Messages), StringComparison.Ordinal);
        Assert.Equal(2, DefinitionRequests);
    }

    [Fact]
    public async Task AssignAsync_A401WithoutACopyIsOutAndLoggedOnce()
    {
        _platform.Then(HttpStatusCode.Unauthorized, """{"status":401,"title":"Unauthorized"}""");
        using var assigner = Assigner();

        Assert.False((await assigner.AssignAsync("checkout-test", "user-1")).InExperiment);
        Assert.False((await assigner.AssignAsync("checkout-test", "user-3")).InExperiment);

        Assert.Single(_logger.Messages);
        Assert.Equal(1, DefinitionRequests);
    }

    [Fact]
    public async Task Assignment_IsCarriedByTheTrace()
    {
        using var assigner = Assigner();

        var inside = new TraceBuilder().WithAssignment(await assigner.AssignAsync("checkout-test", "user-1")).Build();
        var outside = new TraceBuilder().WithAssignment(await assigner.AssignAsync("checkout-test", "user-2")).Build();

        Assert.Equal(("checkout-test", "b"), (inside.Experiment, inside.Variant));
        Assert.Null(outside.Experiment);
        var json = JsonDocument.Parse(JsonSerializer.Serialize(inside, EvalJson.Options)).RootElement;
        Assert.Equal("b", json.GetProperty("variant").GetString());
        Assert.False(JsonDocument.Parse(JsonSerializer.Serialize(outside, EvalJson.Options)).RootElement.TryGetProperty("experiment", out _));
    }

    [Fact]
    public void AddEvalPlatform_RegistersOneSharedAssigner()
    {
        using var provider = new ServiceCollection()
            .AddEvalPlatform(o => (o.Endpoint, o.ApiKey) = (new Uri("http://platform.test/"), "ep_key"))
            .BuildServiceProvider();

        var assigner = provider.GetRequiredService<IExperimentAssigner>();
        Assert.Same(assigner, provider.GetRequiredService<IExperimentAssigner>());
        Assert.Same(assigner, provider.GetRequiredService<ExperimentAssigner>());
    }

    private sealed class ListLogger : ILogger<ExperimentAssigner>
    {
        public List<string> Messages { get; } = [];

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (logLevel >= LogLevel.Warning)
            {
                lock (Messages)
                {
                    Messages.Add(formatter(state, exception));
                }
            }
        }
    }
}
