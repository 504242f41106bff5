using Bunit;
using EvalPlatform.Core.Traces;
using EvalPlatform.Web.Components.Pages.Traces;

namespace EvalPlatform.Tests.Components.Traces;

/// <summary>Issue 13's defects of the trace view's tabs: errors, the Metadata tab, the span timeline.</summary>
public sealed class TraceViewUxTests : BunitTestBase
{
    private static Trace ATrace(string? error = null) => new() { Id = Guid.NewGuid(), Name = "t", StartedAt = DateTimeOffset.UnixEpoch, Model = "gpt-4o", Error = error };

    private static Span Generation(string? output) => new()
    {
        Id = Guid.NewGuid(), Kind = SpanKind.Llm, Name = "gpt-4o", StartedAt = DateTimeOffset.UnixEpoch,
        Input = """{"messages":[{"role":"user","content":"Where is my order?"}]}""", Output = output,
    };

    [Fact]
    public void Chat_OfAnErroredTrace_ShowsTheErrorWhereTheAnswerWouldBe()
    {
        var cut = Render<TestHostPlain>(p => p.AddChildContent<ChatTab>(c => c.Add(x => x.Spans, [Generation(null)]).Add(x => x.Error, "upstream timeout after 30 s")));

        var blocks = cut.FindAll("[data-testid=chat] > *");
        Assert.Equal("chat-error", blocks[^1].GetAttribute("data-testid"));
        Assert.Contains("upstream timeout after 30 s", blocks[^1].TextContent, StringComparison.Ordinal);
        Assert.Equal("user", blocks[0].GetAttribute("data-role"));
    }

    [Fact]
    public void Chat_WithOnlyAnError_ShowsTheError_NotNoConversation()
    {
        var cut = Render<TestHostPlain>(p => p.AddChildContent<ChatTab>(c => c.Add(x => x.Spans, []).Add(x => x.Error, "rate limited")));

        Assert.Contains("rate limited", cut.Find("[data-testid=chat-error]").TextContent, StringComparison.Ordinal);
        Assert.Empty(cut.FindAll("[data-testid=chat-empty]"));
    }

    [Fact]
    public void Chat_WithoutAnError_ShowsNoErrorBlock()
    {
        var cut = Render<TestHostPlain>(p => p.AddChildContent<ChatTab>(c => c.Add(x => x.Spans, [Generation("""{"role":"assistant","content":"Tomorrow."}""")])));

        Assert.Empty(cut.FindAll("[data-testid=chat-error]"));
    }

    [Fact]
    public void Metadata_HasOneMetadataHeading_AndNoneIsSecondaryText_NotTheLinkColour()
    {
        var detail = new TraceDetail(ATrace(), [Generation(null)], []);

        var cut = Render<TestHostPlain>(p => p.AddChildContent<MetadataTab>(m => m.Add(c => c.Detail, detail)));

        Assert.Single(cut.FindAll("h2, .json-title"), e => e.TextContent.Trim() == "Metadata");
        var none = cut.Find("[data-testid=json-none]");
        Assert.Contains("mud-text-secondary", none.ClassName, StringComparison.Ordinal);
        Assert.DoesNotContain("mud-secondary-text", none.ClassName, StringComparison.Ordinal);
    }

    [Fact]
    public void Waterfall_OfSpansAMonthBeforeOneAtArrival_ShortensTheGap_AndKeepsTheBarsReadable()
    {
        var arrival = DateTimeOffset.UnixEpoch.AddDays(40);
        var old = arrival.AddDays(-30);
        var trace = new Trace { Id = Guid.NewGuid(), Name = "t", StartedAt = arrival };
        var root = new Span { Id = Guid.NewGuid(), Kind = SpanKind.Chain, Name = "agent", StartedAt = old, DurationMs = 2000, EndedAt = old.AddSeconds(2) };
        var spans = new[]
        {
            root,
            new Span { Id = Guid.NewGuid(), ParentSpanId = root.Id, Kind = SpanKind.Tool, Name = "lookup", StartedAt = old.AddSeconds(1), DurationMs = 1000, EndedAt = old.AddSeconds(2), Position = 1 },
            new Span { Id = Guid.NewGuid(), Kind = SpanKind.Llm, Name = "generation", StartedAt = arrival, DurationMs = 1000, EndedAt = arrival.AddSeconds(1), Position = 2 },
        };

        var cut = Render<TestHostPlain>(p => p.AddChildContent<SpanWaterfall>(w => w.Add(x => x.Trace, trace).Add(x => x.Spans, spans)));

        var widths = cut.FindAll("[data-testid=waterfall-bar]").Select(b => Width(b.GetAttribute("style")!)).ToList();
        Assert.Equal(3, widths.Count);
        Assert.All(widths, w => Assert.True(w > 20, $"a bar is {w}% wide: the month without spans still squeezes the timeline"));
        Assert.Contains("30 d", cut.Find("[data-testid=waterfall-gap-note]").TextContent, StringComparison.Ordinal);
    }

    [Fact]
    public void Waterfall_OfAnOrdinaryTrace_ShortensNothing()
    {
        var start = DateTimeOffset.UnixEpoch;
        var trace = new Trace { Id = Guid.NewGuid(), Name = "t", StartedAt = start };
        var spans = new[]
        {
            new Span { Id = Guid.NewGuid(), Kind = SpanKind.Tool, Name = "a", StartedAt = start, DurationMs = 100, EndedAt = start.AddMilliseconds(100) },
            new Span { Id = Guid.NewGuid(), Kind = SpanKind.Tool, Name = "b", StartedAt = start.AddMilliseconds(300), DurationMs = 100, EndedAt = start.AddMilliseconds(400), Position = 1 },
        };

        var cut = Render<TestHostPlain>(p => p.AddChildContent<SpanWaterfall>(w => w.Add(x => x.Trace, trace).Add(x => x.Spans, spans)));

        Assert.Empty(cut.FindAll("[data-testid=waterfall-gap]"));
        var styles = cut.FindAll("[data-testid=waterfall-bar]").Select(b => b.GetAttribute("style")!).ToList();
        Assert.Equal((0, 25), (Left(styles[0]), Width(styles[0])));
        Assert.Equal((75, 25), (Left(styles[1]), Width(styles[1])));
    }

    private static double Width(string style) => Css(style, "width");

    private static double Left(string style) => Css(style, "left");

    private static double Css(string style, string property)
    {
        var part = style.Split(';').Select(p => p.Trim()).Single(p => p.StartsWith(property + ":", StringComparison.Ordinal));
        return double.Parse(part[(property.Length + 1)..].Trim().TrimEnd('%'), System.Globalization.CultureInfo.InvariantCulture);
    }
}
