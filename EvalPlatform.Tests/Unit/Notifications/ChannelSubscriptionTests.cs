using System.Text.Json.Nodes;
using EvalPlatform.Core.Notifications;
using EvalPlatform.Core.Traces;

namespace EvalPlatform.Tests.Unit.Notifications;

/// <summary>Which channel wants which event: rejections only, for chosen reasons; trace.created filters.</summary>
public sealed class ChannelSubscriptionTests
{
    private static NotificationChannel Channel(bool rejectedOnly, string? reasons) => new()
    {
        Name = "c", ProtectedSecret = "x", SecretHint = "", EventTypes = NotificationEventTypes.TraceReviewed, RejectedOnly = rejectedOnly, RejectionReasons = reasons,
    };

    private static NotificationEvent Reviewed(string status, string? reason = null) =>
        new(Guid.NewGuid(), NotificationEventTypes.TraceReviewed, "t", "t", null, new JsonObject { ["status"] = status, ["reason"] = reason });

    [Theory]
    [InlineData(false, null, "accepted", null, true)]
    [InlineData(true, null, "accepted", null, false)]
    [InlineData(true, null, "rejected", "off_topic", true)]
    [InlineData(true, "hallucination,unsafe", "rejected", "hallucination", true)]
    [InlineData(true, "hallucination,unsafe", "rejected", "off_topic", false)]
    [InlineData(true, "hallucination", "needs_review", null, false)]
    public void TraceReviewed_RejectedOnly_ForChosenReasons(bool rejectedOnly, string? reasons, string status, string? reason, bool wanted) =>
        Assert.Equal(wanted, NotificationOutbox.Wants(Channel(rejectedOnly, reasons), Reviewed(status, reason)));

    [Fact]
    public void TraceCreatedFilter_MatchesEveryGivenField_AsTheTraceListDoes()
    {
        var trace = new Trace { Model = "gpt-4o", Environment = "production", Tags = ["checkout"], UserId = "123", Error = "timeout" };
        Assert.True(new TraceCreatedFilter(Model: "gpt-4o", Tag: "checkout", Error: true).Matches(trace));
        Assert.False(new TraceCreatedFilter(Model: "gpt-4o", Error: false).Matches(trace));
        Assert.False(new TraceCreatedFilter(Environment: "staging").Matches(trace));
        Assert.False(new TraceCreatedFilter(Tag: "check").Matches(trace));
        Assert.True(new TraceCreatedFilter(UserId: "123").Matches(trace));
        Assert.Equal(new TraceCreatedFilter(Model: "gpt-4o", Error: true), TraceCreatedFilter.Parse("""{"model":"gpt-4o","error":true}"""));
        Assert.Null(TraceCreatedFilter.Parse(null));
    }
}
