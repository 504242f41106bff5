using EvalPlatform.Core.Traces;
using EvalPlatform.Web.Traces;

namespace EvalPlatform.Tests.Unit.Ingestion;

public sealed class TraceFilterQueryTests
{
    [Fact]
    public void Filters_RoundTripThroughTheUrl()
    {
        var filter = new TraceFilter(
            From: new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero), Status: ReviewStatus.NeedsReview, Model: "gpt-4o", Tag: "a b&c",
            Environment: "prod", SessionId: "s/1", UserId: "u?1", Experiment: "e", Variant: "v", Search: "refund policy");

        var query = TraceFilterQuery.ToQuery(filter);
        var back = TraceFilterQuery.Parse("https://host/traces" + query);

        Assert.Equal(filter, back);
        Assert.Contains("status=needs_review", query, StringComparison.Ordinal);
    }

    [Fact]
    public void NoFilter_IsAnEmptyQuery_AndExtrasAreKept()
    {
        Assert.Equal("", TraceFilterQuery.ToQuery(new TraceFilter()));
        Assert.Equal("?tab=functions", TraceFilterQuery.ToQuery(new TraceFilter(), ("tab", "functions")));
        Assert.Equal(new TraceFilter(), TraceFilterQuery.Parse("https://host/traces?status=bogus&from=never"));
    }
}
