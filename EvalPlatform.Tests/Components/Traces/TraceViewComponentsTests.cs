using Bunit;
using EvalPlatform.Core.Scores;
using EvalPlatform.Core.Traces;
using EvalPlatform.Web.Components.Pages.Traces;
using Microsoft.Extensions.DependencyInjection;

namespace EvalPlatform.Tests.Components.Traces;

public sealed class TraceViewComponentsTests : BunitTestBase
{
    private static Span Generation(string input, string? output) => new()
    {
        Id = Guid.NewGuid(), Kind = SpanKind.Llm, Name = "gpt-4o", Input = input, Output = output, StartedAt = DateTimeOffset.UnixEpoch,
    };

    private static Trace ATrace() => new() { Id = Guid.NewGuid(), Name = "t", StartedAt = DateTimeOffset.UnixEpoch, Model = "gpt-4o" };

    [Fact]
    public void Chat_RendersMarkdown_AndShowsSystemUserAndResponse()
    {
        var spans = new[]
        {
            Generation("""{"messages":[{"role":"system","content":"Be **brief**."},{"role":"user","content":"Show code"}]}""",
                """{"role":"assistant","content":"Here:\n\n```python\nprint('hi')\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |"}"""),
        };

        var cut = Render<ChatTab>(p => p.Add(c => c.Spans, spans));

        Assert.Equal(["system", "user", "assistant"], cut.FindAll(".chat-message").Select(m => m.GetAttribute("data-role")!).ToArray());
        Assert.Equal("brief", cut.Find(".chat-system strong").TextContent);
        var code = cut.Find(".chat-response .code-highlight pre");
        Assert.Contains("print", code.TextContent, StringComparison.Ordinal);
        Assert.NotEmpty(code.QuerySelectorAll("span.string"));
        Assert.NotEmpty(cut.FindAll(".chat-response table td"));
        Assert.Contains("AI response", cut.Find(".chat-response .chat-role").TextContent, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("<script>window.pwned = 1</script>hello")]
    [InlineData("<img src=x onerror=\"window.pwned = 1\">")]
    [InlineData("[click](javascript:alert(1))")]
    [InlineData("<a href=\"javascript:alert(1)\" onclick=\"alert(1)\">x</a>")]
    [InlineData("<iframe src=\"https://evil.example\"></iframe><svg onload=alert(1)>")]
    [InlineData("```html\n<script>window.pwned = 1</script>\n```")]
    public void Chat_RendersHostileContentInert(string payload)
    {
        var content = System.Text.Json.JsonSerializer.Serialize(payload);
        var spans = new[] { Generation("""{"messages":[{"role":"user","content":"hi"}]}""", $$"""{"role":"assistant","content":{{content}}}""") };

        var cut = Render<ChatTab>(p => p.Add(c => c.Spans, spans));
        var response = cut.Find(".chat-response .chat-text");

        Assert.Empty(response.QuerySelectorAll("script, img, iframe, svg"));
        Assert.All(response.QuerySelectorAll("*"), e =>
        {
            Assert.DoesNotContain(e.Attributes, a => a.Name.StartsWith("on", StringComparison.OrdinalIgnoreCase));
            Assert.DoesNotContain("javascript:", e.GetAttribute("href") ?? "", StringComparison.OrdinalIgnoreCase);
        });
    }

    [Fact]
    public void Chat_ShowsToolCallsInline_AndOpenAIChoices()
    {
        var spans = new[]
        {
            Generation(
                """{"messages":[{"role":"user","content":"Weather?"},{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},{"role":"tool","tool_call_id":"c1","content":"18C"}]}""",
                """{"choices":[{"message":{"role":"assistant","content":"It is 18C."}}]}"""),
        };

        var cut = Render<ChatTab>(p => p.Add(c => c.Spans, spans));

        Assert.Equal("get_weather", cut.Find(".chat-tool-call code").TextContent);
        Assert.Contains("\"city\": \"Paris\"", cut.Find(".chat-tool-call pre").TextContent, StringComparison.Ordinal);
        Assert.Contains("Tool result (c1)", cut.Markup, StringComparison.Ordinal);
        Assert.Contains("It is 18C.", cut.Find(".chat-response").TextContent, StringComparison.Ordinal);
    }

    [Fact]
    public void Chat_WithoutAGeneration_SaysSo()
    {
        var cut = Render<ChatTab>(p => p.Add(c => c.Spans, Array.Empty<Span>()));
        Assert.NotNull(cut.Find("[data-testid=chat-empty]"));
    }

    [Fact]
    public void Functions_WithNone_SaysNoFunctionCalls()
    {
        var cut = Render<TestHostPlain>(p => p.AddChildContent<FunctionsTab>(f => f.Add(c => c.Trace, ATrace()).Add(c => c.Spans, new[] { Generation("{}", null) })));
        Assert.Equal("No function calls", cut.Find("[data-testid=functions-empty]").TextContent.Trim());
    }

    [Fact]
    public void Functions_ListCallsInOrder_WithFormattedJsonErrorsAndAWaterfall()
    {
        var trace = ATrace();
        var start = DateTimeOffset.UnixEpoch;
        var big = "{" + string.Join(",", Enumerable.Range(0, 2000).Select(i => $"\"k{i}\":{i}")) + "}";
        var chain = new Span { Id = Guid.NewGuid(), Kind = SpanKind.Chain, Name = "agent", StartedAt = start, DurationMs = 100 };
        var spans = new[]
        {
            chain,
            new Span { Id = Guid.NewGuid(), ParentSpanId = chain.Id, Kind = SpanKind.Tool, Name = "second", StartedAt = start.AddMilliseconds(50), DurationMs = 10, Input = big, Position = 1 },
            new Span { Id = Guid.NewGuid(), ParentSpanId = chain.Id, Kind = SpanKind.Tool, Name = "first", StartedAt = start, DurationMs = 20, Input = """{"q":1}""", Error = "boom", Position = 2 },
        };

        var cut = Render<TestHostPlain>(p => p.AddChildContent<FunctionsTab>(f => f.Add(c => c.Trace, trace).Add(c => c.Spans, spans)));

        Assert.Equal(["first", "second"], cut.FindAll(".function-name").Select(e => e.TextContent).ToArray());
        Assert.Contains("boom", cut.Markup, StringComparison.Ordinal);
        Assert.Contains("\"q\": 1", cut.Markup, StringComparison.Ordinal);
        Assert.Contains("\"k1999\": 1999", cut.Markup, StringComparison.Ordinal);
        Assert.Equal(3, cut.FindAll(".waterfall-row").Count);
    }

    [Fact]
    public void Metadata_ShowsEverySection()
    {
        var trace = ATrace();
        trace.Provider = "openai";
        trace.PromptTokens = 1200;
        trace.Cost = 0.0042m;
        trace.LatencyMs = 850;
        trace.Tags = ["beta"];
        trace.Metadata = """{"region":"eu"}""";
        trace.SessionId = "s-9";
        var generation = Generation("{}", null);
        generation.Attributes = """{"provider":"openai","temperature":0.2}""";
        var detail = new TraceDetail(trace, [generation],
            [new Score { Name = "helpfulness", NumericValue = 0.9, CreatedAt = DateTimeOffset.UnixEpoch }]);

        var cut = Render<TestHostPlain>(p => p.AddChildContent<MetadataTab>(m => m.Add(c => c.Detail, detail)));
        var text = cut.Find("[data-testid=metadata]").TextContent;

        foreach (var expected in new[] { "openai", "temperature", "0.2", "1,200", "$0.0042", "850 ms", "beta", "s-9", "\"region\": \"eu\"", "helpfulness", "0.9", "pending" })
        {
            Assert.Contains(expected, text, StringComparison.Ordinal);
        }
    }
}
