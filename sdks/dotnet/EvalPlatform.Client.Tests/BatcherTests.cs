using System.Net;
using System.Net.Http.Headers;
using System.Threading.Channels;
using Microsoft.Extensions.Time.Testing;

namespace EvalPlatform.Client.Tests;

public sealed class BatcherTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _time = new();
    private readonly FakePlatform _platform;
    private readonly Channel<TimeSpan> _waits = Channel.CreateUnbounded<TimeSpan>();
    private EvalPlatformBatcher? _batcher;

    public BatcherTests() => _platform = new FakePlatform(_time);

    private static EvalPlatformOptions Options(Action<EvalPlatformOptions>? configure = null)
    {
        var options = new EvalPlatformOptions { Endpoint = new Uri("http://platform.test/base"), ApiKey = "ep_test_key" };
        configure?.Invoke(options);
        return options;
    }

    private EvalPlatformBatcher Batcher(Action<EvalPlatformOptions>? configure = null)
    {
        _batcher = new EvalPlatformBatcher(new HttpClient(_platform), Options(configure), timeProvider: _time)
        {
            RetryScheduled = wait => _waits.Writer.TryWrite(wait),
            Jitter = () => 1.0,
        };
        return _batcher;
    }

    private static EvalTrace Trace(string id) => new TraceBuilder().WithExternalId(id).WithUserInput("hi " + id).WithResponse("hello").Build();

    private async Task<TimeSpan> NextWaitAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        return await _waits.Reader.ReadAsync(timeout.Token);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_batcher is not null)
        {
            await _batcher.DisposeAsync();
        }

        _platform.Dispose();
    }

    [Fact]
    public async Task Enqueue_SendsABatch_AsSoonAsMaxBatchSizeTracesWait()
    {
        var batcher = Batcher(o => o.MaxBatchSize = 5);
        for (var i = 0; i < 4; i++)
        {
            Assert.True(batcher.Enqueue(Trace($"t{i}")));
        }

        await Task.Delay(200);
        Assert.Empty(_platform.Requests);

        batcher.Enqueue(Trace("t4"));
        await _platform.WaitForRequestsAsync(1);

        var request = _platform.Requests[0];
        Assert.Equal(HttpMethod.Post, request.Method);
        Assert.Equal("http://platform.test/base/api/v1/traces/batch", request.Uri.ToString());
        Assert.Equal("Bearer ep_test_key", request.Authorization);
        Assert.Equal(["t0", "t1", "t2", "t3", "t4"], request.ExternalIds);
        await WaitUntilAsync(() => batcher.Counters.Sent == 5);
        Assert.Equal(0, batcher.Counters.Pending);
    }

    [Fact]
    public async Task Enqueue_SendsWhatWaits_EveryFlushInterval()
    {
        var batcher = Batcher(o => o.FlushInterval = TimeSpan.FromSeconds(1));
        batcher.Enqueue(Trace("a"));
        batcher.Enqueue(Trace("b"));
        await Task.Delay(100);
        Assert.Empty(_platform.Requests);

        _time.Advance(TimeSpan.FromSeconds(1));
        await _platform.WaitForRequestsAsync(1);

        Assert.Equal(["a", "b"], _platform.Requests[0].ExternalIds);
        await WaitUntilAsync(() => batcher.Counters.Sent == 2);
    }

    [Fact]
    public async Task Retry_Honours_RetryAfterInSeconds()
    {
        _platform.Then(HttpStatusCode.ServiceUnavailable, FakePlatform.Problem(503), r => r.Headers.RetryAfter = new RetryConditionHeaderValue(TimeSpan.FromSeconds(5)));
        var batcher = Batcher();
        batcher.Enqueue(Trace("a"));

        var flush = batcher.FlushAsync();
        Assert.Equal(TimeSpan.FromSeconds(5), await NextWaitAsync());
        _time.Advance(TimeSpan.FromSeconds(4));
        Assert.False(flush.IsCompleted);
        Assert.Single(_platform.Requests);

        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.True(await flush);

        Assert.Equal(2, _platform.Requests.Count);
        Assert.Equal(TimeSpan.FromSeconds(5), _platform.Requests[1].At - _platform.Requests[0].At);
        Assert.Equal(["a"], _platform.Requests[1].ExternalIds);
        Assert.Equal(new EvalPlatformCounters(1, 0, 0, 0, 0), batcher.Counters);
    }

    [Fact]
    public async Task Retry_Honours_RetryAfterAsAnHttpDate()
    {
        var at = _time.GetUtcNow().AddSeconds(7);
        _platform.Then(HttpStatusCode.TooManyRequests, "{}", r => r.Headers.RetryAfter = new RetryConditionHeaderValue(at));
        var batcher = Batcher();
        batcher.Enqueue(Trace("a"));

        var flush = batcher.FlushAsync();
        Assert.Equal(TimeSpan.FromSeconds(7), await NextWaitAsync());
        _time.Advance(TimeSpan.FromSeconds(7));

        Assert.True(await flush);
        Assert.Equal(2, _platform.Requests.Count);
        Assert.Equal(1, batcher.Counters.Sent);
    }

    [Fact]
    public async Task Retry_BacksOffExponentially_On5xxAndNetworkErrors()
    {
        _platform.Then(HttpStatusCode.InternalServerError)
            .ThenThrow(new HttpRequestException("connection refused"))
            .Then(HttpStatusCode.BadGateway, "<html>bad gateway</html>")
            .Then(HttpStatusCode.ServiceUnavailable);
        var batcher = Batcher(o => (o.InitialBackoff, o.MaxBackoff, o.FlushTimeout) = (TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(6), TimeSpan.FromMinutes(1)));
        batcher.Enqueue(Trace("a"));

        var flush = batcher.FlushAsync();
        foreach (var expected in new[] { 1, 2, 4, 6 })
        {
            Assert.Equal(TimeSpan.FromSeconds(expected), await NextWaitAsync());
            _time.Advance(TimeSpan.FromSeconds(expected));
        }

        Assert.True(await flush);
        Assert.Equal(5, _platform.Requests.Count);
        Assert.All(_platform.Requests, r => Assert.Equal(["a"], r.ExternalIds));
        Assert.Equal(1, batcher.Counters.Sent);
    }

    [Fact]
    public async Task Backoff_HasJitter_BetweenHalfAndAllOfTheExponentialStep()
    {
        _platform.Then(HttpStatusCode.InternalServerError);
        var batcher = Batcher(o => o.InitialBackoff = TimeSpan.FromSeconds(2));
        batcher.Jitter = () => 0.5 + (Random.Shared.NextDouble() / 2);
        batcher.Enqueue(Trace("a"));

        var flush = batcher.FlushAsync();
        var wait = await NextWaitAsync();
        Assert.InRange(wait, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2));
        _time.Advance(wait);
        Assert.True(await flush);
    }

    [Fact]
    public async Task Retry_GivesUp_AfterMaxRetries_CountingFailed()
    {
        _platform.Default = _ => FakePlatform.Json(HttpStatusCode.ServiceUnavailable, "{}");
        var batcher = Batcher(o => (o.MaxRetries, o.InitialBackoff) = (2, TimeSpan.Zero));
        batcher.Enqueue(Trace("a"));
        batcher.Enqueue(Trace("b"));

        Assert.True(await batcher.FlushAsync());

        Assert.Equal(3, _platform.Requests.Count);
        Assert.Equal(new EvalPlatformCounters(0, 0, 0, 2, 0), batcher.Counters);
    }

    [Fact]
    public async Task BadRequest_IsNotRetried_OnlyTheNamedItemsAreDropped_AndTheRestIsSentAgain()
    {
        _platform.Then(HttpStatusCode.BadRequest, FakePlatform.Problem(400, ("traces[1].model", "Must be at most 200 characters."), ("traces[3].usage.prompt_tokens", "Must not be negative.")));
        var batcher = Batcher();
        foreach (var id in new[] { "a", "b", "c", "d", "e" })
        {
            batcher.Enqueue(Trace(id));
        }

        Assert.True(await batcher.FlushAsync());

        Assert.Equal(2, _platform.Requests.Count);
        Assert.Equal(["a", "c", "e"], _platform.Requests[1].ExternalIds);
        Assert.Equal(new EvalPlatformCounters(3, 0, 2, 0, 0), batcher.Counters);
        Assert.Empty(await DrainWaitsAsync());
    }

    [Fact]
    public async Task BadRequest_ForTheBatchAsAWhole_DropsIt_WithoutRetry()
    {
        _platform.Then(HttpStatusCode.BadRequest, FakePlatform.Problem(400, ("traces", "Send 1 to 1000 traces per batch.")));
        var batcher = Batcher();
        batcher.Enqueue(Trace("a"));
        batcher.Enqueue(Trace("b"));

        Assert.True(await batcher.FlushAsync());

        Assert.Single(_platform.Requests);
        Assert.Equal(new EvalPlatformCounters(0, 0, 2, 0, 0), batcher.Counters);
    }

    [Fact]
    public async Task Conflict_DropsTheTraceStoredWithOtherContent_AndSendsTheRest()
    {
        _platform.Then(HttpStatusCode.Conflict, FakePlatform.Problem(409, ("traces[0].external_id", "A different trace with external_id 'a' is already stored.")))
            .Then(HttpStatusCode.Conflict, FakePlatform.Problem(409, ("external_id", "A different trace with external_id 'c' is already stored.")));
        var batcher = Batcher(o => o.MaxBatchSize = 2);
        batcher.Enqueue(Trace("a"));
        batcher.Enqueue(Trace("b"));
        await _platform.WaitForRequestsAsync(2);
        batcher.Enqueue(Trace("c"));

        Assert.True(await batcher.FlushAsync());

        Assert.Equal(["a", "b"], _platform.Requests[0].ExternalIds);
        Assert.Equal(["b"], _platform.Requests[1].ExternalIds);
        Assert.Equal(["c"], _platform.Requests[2].ExternalIds);
        Assert.Equal(3, _platform.Requests.Count);
        Assert.Equal(new EvalPlatformCounters(1, 0, 2, 0, 0), batcher.Counters);
    }

    [Fact]
    public async Task Unauthorized_IsNotRetried_AndCountsFailed()
    {
        _platform.Then(HttpStatusCode.Unauthorized, """{"status":401,"title":"Unauthorized","detail":"Unknown API key."}""");
        var batcher = Batcher();
        batcher.Enqueue(Trace("a"));

        Assert.True(await batcher.FlushAsync());

        Assert.Single(_platform.Requests);
        Assert.Equal(new EvalPlatformCounters(0, 0, 0, 1, 0), batcher.Counters);
    }

    [Fact]
    public async Task TooLarge_SplitsTheBatch()
    {
        _platform.Then(HttpStatusCode.RequestEntityTooLarge);
        var batcher = Batcher();
        foreach (var id in new[] { "a", "b", "c", "d" })
        {
            batcher.Enqueue(Trace(id));
        }

        Assert.True(await batcher.FlushAsync());

        Assert.Equal(["a", "b"], _platform.Requests[1].ExternalIds);
        Assert.Equal(["c", "d"], _platform.Requests[2].ExternalIds);
        Assert.Equal(4, batcher.Counters.Sent);
    }

    [Fact]
    public async Task Batches_StayUnderMaxBatchBytes()
    {
        var batcher = Batcher(o => o.MaxBatchBytes = 2048);
        for (var i = 0; i < 6; i++)
        {
            batcher.Enqueue(new TraceBuilder().WithExternalId($"t{i}").WithUserInput(new string('x', 900)).Build());
        }

        Assert.True(await batcher.FlushAsync());

        Assert.Equal(3, _platform.Requests.Count);
        Assert.All(_platform.Requests, r => Assert.Equal(2, r.ExternalIds.Count));
    }

    [Fact]
    public async Task FullQueue_DropsTheOldest_AndCountsThem()
    {
        var batcher = Batcher(o => o.MaxQueueSize = 3);
        foreach (var id in new[] { "a", "b", "c", "d", "e" })
        {
            Assert.True(batcher.Enqueue(Trace(id)));
        }

        Assert.Equal(new EvalPlatformCounters(0, 2, 0, 0, 3), batcher.Counters);
        Assert.True(await batcher.FlushAsync());
        Assert.Equal(["c", "d", "e"], _platform.Requests.Single().ExternalIds);
        Assert.Equal(new EvalPlatformCounters(3, 2, 0, 0, 0), batcher.Counters);
    }

    [Fact]
    public async Task Dispose_FlushesWhatIsPending()
    {
        var batcher = Batcher();
        batcher.Enqueue(Trace("a"));
        batcher.Enqueue(Trace("b"));

        await batcher.DisposeAsync();

        Assert.Equal(["a", "b"], _platform.Requests.Single().ExternalIds);
        Assert.Equal(2, batcher.Counters.Sent);
        Assert.False(batcher.Enqueue(Trace("late")));
        Assert.Equal(1, batcher.Counters.Dropped);
    }

    [Fact]
    public async Task PlatformDown_NeverThrowsIntoTheApp()
    {
        _platform.Default = _ => throw new HttpRequestException("connection refused");
        var batcher = Batcher(o => (o.MaxRetries, o.InitialBackoff) = (1, TimeSpan.Zero));
        for (var i = 0; i < 3; i++)
        {
            Assert.True(batcher.Enqueue(Trace($"t{i}")));
        }

        Assert.True(await batcher.FlushAsync());
        batcher.Enqueue(Trace("t3"));
        await batcher.DisposeAsync();

        Assert.Equal(new EvalPlatformCounters(0, 0, 0, 4, 0), batcher.Counters);
    }

    [Fact]
    public async Task Dispose_GivesUpAfterFlushTimeout_CountingWhatIsLeftAsDropped()
    {
        _platform.Default = _ => FakePlatform.Json(HttpStatusCode.ServiceUnavailable, "{}");
        var batcher = Batcher(o => (o.MaxRetries, o.InitialBackoff, o.FlushTimeout) = (100, TimeSpan.FromSeconds(20), TimeSpan.FromSeconds(10)));
        batcher.Enqueue(Trace("a"));

        var dispose = batcher.DisposeAsync().AsTask();
        Assert.Equal(TimeSpan.FromSeconds(20), await NextWaitAsync());
        _time.Advance(TimeSpan.FromSeconds(10));
        await dispose;

        Assert.Equal(new EvalPlatformCounters(0, 1, 0, 0, 0), batcher.Counters);
    }

    [Fact]
    public async Task FlushTimeout_DuringARetry_KeepsTheUnsettledTraces_ForTheNextFlush()
    {
        _platform.Then(HttpStatusCode.BadRequest, FakePlatform.Problem(400, ("traces[0].model", "Too long.")))
            .Then(HttpStatusCode.ServiceUnavailable);
        var batcher = Batcher(o => (o.InitialBackoff, o.FlushTimeout) = (TimeSpan.FromSeconds(20), TimeSpan.FromSeconds(10)));
        batcher.Enqueue(Trace("bad"));
        batcher.Enqueue(Trace("good"));

        var flush = batcher.FlushAsync();
        Assert.Equal(TimeSpan.FromSeconds(20), await NextWaitAsync());
        _time.Advance(TimeSpan.FromSeconds(10));

        Assert.False(await flush);
        Assert.Equal(new EvalPlatformCounters(0, 0, 1, 0, 1), batcher.Counters);
        Assert.True(await batcher.FlushAsync());
        Assert.Equal(["good"], _platform.Requests[^1].ExternalIds);
        Assert.Equal(new EvalPlatformCounters(1, 0, 1, 0, 0), batcher.Counters);
    }

    [Fact]
    public async Task Enqueue_OfATraceThatCannotBeSerialized_ReturnsFalse_WithoutThrowing()
    {
        var batcher = Batcher();
        var cyclic = new Dictionary<string, object?>();
        cyclic["self"] = cyclic;

        Assert.False(batcher.Enqueue(new TraceBuilder().WithMetadata("bad", cyclic).Build()));
        Assert.True(await batcher.FlushAsync());
        Assert.Empty(_platform.Requests);
        Assert.Equal(new EvalPlatformCounters(0, 0, 1, 0, 0), batcher.Counters);
    }

    [Theory]
    [InlineData(new[] { "traces[0].model", "traces[2].usage" }, 3, new[] { 0, 2 })]
    [InlineData(new[] { "external_id" }, 1, new[] { 0 })]
    [InlineData(new[] { "traces" }, 3, null)]
    [InlineData(new[] { "traces[5].model" }, 3, null)]
    public void BadIndexes_ReadsTheItemsFromTheProblemsErrors(string[] fields, int count, int[]? expected)
    {
        var problem = new EvalPlatformException(HttpStatusCode.BadRequest, "Invalid trace", null,
            fields.ToDictionary(f => f, f => (IReadOnlyList<string>)["bad"]));

        var bad = EvalPlatformBatcher.BadIndexes(problem, count);

        Assert.Equal(expected, bad?.Order().ToArray());
    }

    private async Task<List<TimeSpan>> DrainWaitsAsync()
    {
        await Task.Yield();
        var waits = new List<TimeSpan>();
        while (_waits.Reader.TryRead(out var wait))
        {
            waits.Add(wait);
        }

        return waits;
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        while (!condition())
        {
            await Task.Delay(10, timeout.Token);
        }
    }
}
