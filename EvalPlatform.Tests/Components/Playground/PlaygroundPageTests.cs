using Bunit;
using EvalPlatform.Core.Ingestion;
using EvalPlatform.Core.Outbound;
using EvalPlatform.Core.Providers;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Core.Traces;
using EvalPlatform.Tests.Infrastructure;
using EvalPlatform.Web.Components.Layout;
using EvalPlatform.Web.Components.Pages.Playground;
using EvalPlatform.Web.Providers;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Web;
using Microsoft.Extensions.DependencyInjection;

namespace EvalPlatform.Tests.Components.Playground;

/// <summary>
/// /playground on the real services against a fake OpenAI and a fake Anthropic: two columns streamed side by side with their
/// figures, a provider's refusal shown in its column, Ctrl+Enter, variables, saving as traces, "Open in playground" from a
/// trace, and the empty and not-allowed states.
/// </summary>
public sealed class PlaygroundPageTests : BunitTestBase
{
    private readonly CancellationTokenSource _writer = new();
    private FakeOpenAiServer _openAi = default!;
    private FakeAnthropicServer _anthropic = default!;
    private TestTeam _team = default!;
    private string _reviewer = default!;

    public PlaygroundPageTests()
    {
        Services.AddEvalProviderClients();
        Services.AddHybridCache();
        Services.Configure<OutboundOptions>(o => o.AllowPrivateTargets = true);
    }

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        _ = Services.GetRequiredService<IngestionQueue>().RunAsync(_writer.Token);
        _openAi = await FakeOpenAiServer.StartNewAsync();
        _anthropic = await FakeAnthropicServer.StartNewAsync();
        _team = await TestData.CreateTeamAsync(Services);
        _reviewer = (await TestData.CreateMemberAsync(Services, _team.Id, TeamRole.Reviewer)).UserId;
    }

    protected override async Task CleanupAsync()
    {
        await _writer.CancelAsync();
        _writer.Dispose();
        await _openAi.DisposeAsync();
        await _anthropic.DisposeAsync();
    }

    private async Task ConnectBothAsync()
    {
        Services.GetRequiredService<TeamContext>().SetMember(_team.Id, _team.OwnerId, TeamRole.Owner);
        var providers = Services.GetRequiredService<ProviderService>();
        await providers.CreateAsync(new ProviderInput("openai", "OpenAI main", _openAi.BaseUrl, FakeOpenAiServer.Key));
        await providers.CreateAsync(new ProviderInput("anthropic", "Claude", _anthropic.BaseUrl, FakeAnthropicServer.Key));
    }

    private IRenderedComponent<TestHost> RenderAs(TeamRole role, Guid? trace = null)
    {
        var userId = role == TeamRole.Reviewer ? _reviewer : _team.OwnerId;
        Services.GetRequiredService<TeamContext>().SetMember(_team.Id, userId, role);
        var current = new CurrentTeam(userId, "someone@example.com", new Membership(_team.Id, _team.Name, role, null), []);
        Services.GetRequiredService<NavigationManager>().NavigateTo(trace is null ? "/playground" : $"/playground?trace={trace}");
        return Render<TestHost>(p => p.Add(h => h.Team, current).AddChildContent<PlaygroundPage>());
    }

    private static void Type(IRenderedComponent<TestHost> cut, string testId, int index, string value) =>
        Field(cut, testId, index).Input(value);

    /// <summary>A MudBlazor text field's input or textarea (the test id lands on it).</summary>
    private static AngleSharp.Dom.IElement Field(IRenderedComponent<TestHost> cut, string testId, int index = 0) =>
        cut.FindAll($"input[data-testid={testId}], textarea[data-testid={testId}]")[index];

    private static string Value(IRenderedComponent<TestHost> cut, string testId) =>
        Field(cut, testId) is var f && f.TagName == "TEXTAREA" ? f.GetAttribute("value") ?? f.TextContent : f.GetAttribute("value") ?? "";

    [Fact]
    public async Task TwoConfigurations_StreamSideBySide_WithFigures_AndARefusalInItsColumn_ThenSaveAsTraces()
    {
        await ConnectBothAsync();
        var cut = RenderAs(TeamRole.Reviewer);
        cut.WaitForAssertion(() => Assert.NotEmpty(cut.FindAll("[data-testid=playground]")));

        Type(cut, "playground-system", 0, "Be brief.");
        Type(cut, "playground-content", 0, "Say hello to {{name}}.");
        cut.WaitForAssertion(() => Assert.Single(cut.FindAll("input[data-testid=playground-variable], textarea[data-testid=playground-variable]")));
        Type(cut, "playground-variable", 0, "Ann");
        await cut.Find("[data-testid=playground-add-config]").ClickAsync(new());
        Assert.Equal(2, cut.FindAll("[data-testid=playground-config]").Count);
        Type(cut, "playground-model", 0, "gpt-4o-mini");
        Type(cut, "playground-model", 1, "claude-sonnet-4-20250514");
        _openAi.Next(new FakeReply(Text: "Hello Ann, nice to meet you.", ChunkDelay: TimeSpan.FromMilliseconds(10)));
        _anthropic.NextError(429, retryAfter: "2", message: "Too many requests, slow down.");

        // Ctrl+Enter runs from anywhere on the page.
        await cut.Find("[data-testid=playground]").KeyDownAsync(new KeyboardEventArgs { Key = "Enter", CtrlKey = true });

        cut.WaitForAssertion(() =>
        {
            var columns = cut.FindAll("[data-testid=playground-column]");
            Assert.Equal(2, columns.Count);
            Assert.Equal("Hello Ann, nice to meet you.", columns[0].QuerySelector("[data-testid=playground-output]")!.TextContent);
            Assert.Contains("Tokens", columns[0].QuerySelector("[data-testid=playground-figures]")!.TextContent, StringComparison.Ordinal);
            Assert.Contains("429", columns[1].QuerySelector("[data-testid=playground-column-error]")!.TextContent, StringComparison.Ordinal);
        }, TimeSpan.FromSeconds(10));
        Assert.Contains("Say hello to Ann.", _openAi.Requests[^1].Body, StringComparison.Ordinal);

        await cut.Find("[data-testid=playground-save]").ClickAsync(new());
        cut.WaitForAssertion(() => Assert.Equal(2, cut.FindAll("[data-testid=playground-saved-link]").Count), TimeSpan.FromSeconds(10));
        var page = await Services.GetRequiredService<TraceQueries>().ListAsync(new TraceFilter(Tag: "playground"), null, 10);
        Assert.Equal(2, page.Items.Count);
    }

    [Fact]
    public async Task OpenInPlayground_FillsThePromptModelAndVariablesFromTheTrace()
    {
        await ConnectBothAsync();
        Services.GetRequiredService<TeamContext>().SetApiKey(_team.Id, Guid.NewGuid(), ApiKeyScopes.Ingest);
        var json = System.Text.Json.JsonSerializer.SerializeToElement(new
        {
            name = "support", provider = "anthropic", model = "claude-sonnet-4-20250514",
            messages = new object[]
            {
                new { role = "system", content = "You help customers." },
                new { role = "user", content = "Where is order 42?" },
                new { role = "assistant", content = "It ships today." },
            },
            metadata = new { customer = "Ann", parameters = new { temperature = 0.4, max_tokens = 300 } },
        });
        var traceId = (await Services.GetRequiredService<TraceIngestionService>().IngestOneAsync(json)).Items[0].Id!.Value;

        var cut = RenderAs(TeamRole.Reviewer, traceId);
        cut.WaitForAssertion(() => Assert.NotEmpty(cut.FindAll("[data-testid=playground-from-trace]")));
        Assert.Equal("You help customers.", Value(cut, "playground-system"));
        Assert.Equal("Where is order 42?", Value(cut, "playground-content"));
        Assert.Equal("claude-sonnet-4-20250514", Value(cut, "playground-model"));
        Assert.Equal("0.4", Value(cut, "playground-temperature"));

        // A variable named like a metadata field starts with the trace's value.
        Type(cut, "playground-content", 0, "Where is order 42, {{customer}}?");
        cut.WaitForAssertion(() => Assert.Equal("Ann", Value(cut, "playground-variable")));
    }

    [Fact]
    public void WithoutConnections_SaysSo()
    {
        var cut = RenderAs(TeamRole.Reviewer);
        cut.WaitForAssertion(() => Assert.NotEmpty(cut.FindAll("[data-testid=playground-empty]")));
    }

    [Fact]
    public async Task AViewer_IsNotAllowed()
    {
        await ConnectBothAsync();
        var viewer = RenderAs(TeamRole.Viewer);
        Assert.NotEmpty(viewer.FindAll("[data-testid=playground-not-allowed]"));
        Assert.Empty(viewer.FindAll("[data-testid=playground]"));
    }

    [Fact]
    public async Task AnotherTeamsTrace_IsNotOpened()
    {
        await ConnectBothAsync();
        var other = await TestData.CreateTeamAsync(Services);
        Services.GetRequiredService<TeamContext>().SetApiKey(other.Id, Guid.NewGuid(), ApiKeyScopes.Ingest);
        var json = System.Text.Json.JsonSerializer.SerializeToElement(new { name = "theirs", user_input = "secret question", response = "secret answer" });
        var theirs = (await Services.GetRequiredService<TraceIngestionService>().IngestOneAsync(json)).Items[0].Id!.Value;

        var cut = RenderAs(TeamRole.Reviewer, theirs);
        cut.WaitForAssertion(() => Assert.NotEmpty(cut.FindAll("[data-testid=playground-load-error]")));
        Assert.DoesNotContain("secret", cut.Markup, StringComparison.Ordinal);
    }
}
