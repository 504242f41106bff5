using EvalPlatform.Core.Queues;
using EvalPlatform.Core.Traces;

namespace EvalPlatform.Tests.Unit.Queues;

public sealed class QueueSamplingTests
{
    private static List<Guid> Ids(int seed, int count)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(_ =>
        {
            var bytes = new byte[16];
            random.NextBytes(bytes);
            return new Guid(bytes);
        }).ToList();
    }

    [Fact]
    public void TheSample_IsDeterministic_AndCloseToItsPercent()
    {
        var queue = Ids(1, 1)[0];
        var traces = Ids(2, 20_000);

        var inTen = traces.Count(t => QueueSampling.InSample(queue, t, 10));
        var again = traces.Count(t => QueueSampling.InSample(queue, t, 10));

        Assert.Equal(inTen, again);
        Assert.InRange(inTen, 1_800, 2_200);
        Assert.All(traces.Take(100), t => Assert.True(QueueSampling.InSample(queue, t, 100)));
    }

    [Fact]
    public void ALargerPercent_KeepsEverythingTheSmallerOneHad_AndQueuesSampleIndependently()
    {
        var (first, second) = (Ids(3, 2)[0], Ids(3, 2)[1]);
        var traces = Ids(4, 5_000);

        var ten = traces.Where(t => QueueSampling.InSample(first, t, 10)).ToHashSet();
        var thirty = traces.Where(t => QueueSampling.InSample(first, t, 30)).ToHashSet();
        var otherQueue = traces.Where(t => QueueSampling.InSample(second, t, 10)).ToHashSet();

        Assert.Subset(thirty, ten);
        Assert.InRange(ten.Intersect(otherQueue).Count(), 10, 100); // about 1% of 5,000 if independent
    }

    [Fact]
    public void TheFilter_RoundTrips_WithTheListsParameterNames()
    {
        var filter = new TraceFilter(Status: ReviewStatus.Pending, Model: "gpt-4o", Environment: "production", ScoreMin: 0.5,
            From: new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero));

        var json = QueueFilterJson.Write(filter);

        Assert.Equal(filter, QueueFilterJson.Read(json));
        Assert.Contains("\"status\":\"pending\"", json, StringComparison.Ordinal);
        Assert.Contains("\"score_min\":0.5", json, StringComparison.Ordinal);
        Assert.DoesNotContain("tag", json, StringComparison.Ordinal);
        Assert.Equal(new TraceFilter(), QueueFilterJson.Read("{}"));
    }
}
