using Bunit;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Ingestion;
using EvalPlatform.Core.Queues;
using EvalPlatform.Core.Reviews;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Core.Traces.Views;
using EvalPlatform.Tests.Infrastructure;
using EvalPlatform.Web.Components.Layout;
using EvalPlatform.Web.Components.Shared;
using EvalPlatform.Web.Palette;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Web;
using Microsoft.Extensions.DependencyInjection;

namespace EvalPlatform.Tests.Components.Palette;

/// <summary>The command palette and the getting-started checklist on real services (SQLite).</summary>
public sealed class CommandPaletteTests : BunitTestBase
{
    private readonly CancellationTokenSource _writer = new();
    private TestTeam _team = default!;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        _ = Services.GetRequiredService<IngestionQueue>().RunAsync(_writer.Token);
        _team = await TestData.CreateTeamAsync(Services);
        Services.GetRequiredService<TeamContext>().SetMember(_team.Id, _team.OwnerId, TeamRole.Owner);
    }

    protected override Task CleanupAsync()
    {
        _writer.Cancel();
        return Task.CompletedTask;
    }

    private CurrentTeam As(TeamRole role) => new(_team.OwnerId, _team.OwnerEmail, new Membership(_team.Id, _team.Name, role, null), []);

    private async Task<Guid> IngestAsync(object trace, Guid? teamId = null)
    {
        await using var scope = Services.CreateAsyncScope();
        scope.ServiceProvider.GetRequiredService<TeamContext>().SetApiKey(teamId ?? _team.Id, Guid.NewGuid(), ApiKeyScopes.Ingest);
        var json = System.Text.Json.JsonSerializer.SerializeToElement(trace);
        var outcome = await scope.ServiceProvider.GetRequiredService<TraceIngestionService>().IngestOneAsync(json);
        Assert.True(outcome.Items[0].IsStored);
        return outcome.Items[0].Id!.Value;
    }

    /// <summary>
    /// How long a search may take to be answered: the debounce (150 ms of real time) and then one query per source, in turn,
    /// each compiled by EF Core the first time the test process runs it. Alone that is well under bUnit's default second;
    /// on a loaded machine (the whole suite, other builds) it was not, and the test failed with the answer still on its way.
    /// The waits below are on the answer itself (the results the listbox says are for this term), so they end as soon as it is in.
    /// </summary>
    private static readonly TimeSpan AnswerTime = TimeSpan.FromSeconds(15);

    private IRenderedComponent<TestHost> RenderPalette(TeamRole role = TeamRole.Owner)
    {
        var cut = Render<TestHost>(p => p.Add(h => h.Team, As(role)).AddChildContent<CommandPalette>());
        cut.Find("[data-testid=palette-button]").Click();
        cut.WaitForAssertion(() => Assert.Equal("", cut.Find("[data-testid=palette-list]").GetAttribute("data-term")), AnswerTime);
        return cut;
    }

    /// <summary>Types <paramref name="term"/> and waits until the palette shows the answer to it (not to an earlier term).</summary>
    private static void Search(IRenderedComponent<TestHost> cut, string term)
    {
        cut.Find("[data-testid=palette-input]").Input(term);
        cut.WaitForAssertion(() =>
        {
            var list = cut.Find("[data-testid=palette-list]");
            Assert.Equal(term, list.GetAttribute("data-term"));
            Assert.Equal("false", list.GetAttribute("aria-busy"));
        }, AnswerTime);
    }

    private static List<string> Titles(IRenderedComponent<TestHost> cut) =>
        cut.FindAll("[data-testid=palette-option] .palette-title").Select(e => e.TextContent).ToList();

    [Fact]
    public async Task AnExternalId_FindsTheTrace_AndEnterOpensIt()
    {
        var id = await IngestAsync(new { external_id = "order-42", name = "refund chat", user_input = "Refund please" });
        var cut = RenderPalette();

        Search(cut, "order-42");

        Assert.Equal("Trace", cut.Find("[data-testid=palette-option]").GetAttribute("data-kind"));
        Assert.Equal("refund chat", Titles(cut)[0]);
        await cut.Find("[data-testid=palette-input]").KeyDownAsync(new KeyboardEventArgs { Key = "Enter" });
        Assert.EndsWith($"/traces/{id}", Services.GetRequiredService<NavigationManager>().Uri, StringComparison.Ordinal);
        Assert.Empty(cut.FindAll("[data-testid=palette]"));
    }

    [Fact]
    public async Task EnterPressed_BeforeTheAnswer_OpensItsFirstLine_WhenItComes()
    {
        var id = await IngestAsync(new { external_id = "order-43", name = "pasted id", user_input = "Where is it?" });
        var cut = RenderPalette();

        // Pasted and Enter at once: the search is still waiting out its debounce when Enter comes.
        var typing = cut.Find("[data-testid=palette-input]").InputAsync(new ChangeEventArgs { Value = "order-43" });
        cut.WaitForAssertion(() => Assert.Equal("true", cut.Find("[data-testid=palette-list]").GetAttribute("aria-busy")), AnswerTime);
        await cut.Find("[data-testid=palette-input]").KeyDownAsync(new KeyboardEventArgs { Key = "Enter" });
        await typing;

        cut.WaitForAssertion(() => Assert.EndsWith($"/traces/{id}", Services.GetRequiredService<NavigationManager>().Uri, StringComparison.Ordinal), AnswerTime);
        cut.WaitForAssertion(() => Assert.Empty(cut.FindAll("[data-testid=palette]")));
    }

    [Fact]
    public async Task Pages_FollowTheRole_AndMatchWithoutCase()
    {
        var owner = RenderPalette(TeamRole.Owner);
        Search(owner, "API");
        Assert.Contains("API keys", Titles(owner));

        await DisposeComponentsAsync();
        var viewer = RenderPalette(TeamRole.Viewer);
        Assert.Contains("Traces", Titles(viewer));
        Assert.DoesNotContain("API keys", Titles(viewer));
        Assert.DoesNotContain("Playground", Titles(viewer));
        Search(viewer, "api");
        Assert.NotNull(viewer.Find("[data-testid=palette-empty]"));
    }

    [Fact]
    public async Task Arrows_MoveTheActiveOption_AndEscapeClosesAndGivesFocusBack()
    {
        var cut = RenderPalette();
        Assert.True(cut.FindAll("[data-testid=palette-option]").Count > 3);
        var input = cut.Find("[data-testid=palette-input]");
        Assert.Equal("combobox", input.GetAttribute("role"));
        Assert.Equal("palette-list", input.GetAttribute("aria-controls"));
        Assert.Equal("true", input.GetAttribute("aria-expanded"));
        Assert.Equal("palette-option-0", input.GetAttribute("aria-activedescendant"));

        await input.KeyDownAsync(new KeyboardEventArgs { Key = "ArrowDown" });
        await input.KeyDownAsync(new KeyboardEventArgs { Key = "ArrowDown" });
        Assert.Equal("palette-option-2", cut.Find("[data-testid=palette-input]").GetAttribute("aria-activedescendant"));
        Assert.Equal("true", cut.Find("#palette-option-2").GetAttribute("aria-selected"));
        Assert.Equal("false", cut.Find("#palette-option-0").GetAttribute("aria-selected"));
        await cut.Find("[data-testid=palette-input]").KeyDownAsync(new KeyboardEventArgs { Key = "ArrowUp" });
        Assert.Equal("palette-option-1", cut.Find("[data-testid=palette-input]").GetAttribute("aria-activedescendant"));

        await cut.Find("[data-testid=palette-input]").KeyDownAsync(new KeyboardEventArgs { Key = "Escape" });
        Assert.Empty(cut.FindAll("[data-testid=palette]"));
        JSInterop.VerifyInvoke("evalPlatform.palette.restore");
        JSInterop.VerifyInvoke("evalPlatform.palette.remember");
    }

    [Fact]
    public async Task ctrlK_FromTheBrowser_OpensIt()
    {
        var cut = Render<TestHost>(p => p.Add(h => h.Team, As(TeamRole.Owner)).AddChildContent<CommandPalette>());
        Assert.Empty(cut.FindAll("[data-testid=palette]"));
        JSInterop.VerifyInvoke("evalPlatform.palette.attach");

        await cut.InvokeAsync(() => cut.FindComponent<CommandPalette>().Instance.OpenFromKeyAsync());

        cut.WaitForElement("[data-testid=palette-input]");
    }

    [Fact]
    public async Task AQueue_ByName_NotAnotherTeams()
    {
        var other = await TestData.CreateTeamAsync(Services);
        await using (var db = await Services.GetRequiredService<IEvalDbContextFactory>().CreateAsync())
        {
            db.AllowCrossTeamWrites();
            db.ReviewQueues.Add(new ReviewQueue { Id = Guid.NewGuid(), TeamId = _team.Id, Name = "Refunds triage" });
            db.ReviewQueues.Add(new ReviewQueue { Id = Guid.NewGuid(), TeamId = other.Id, Name = "Refunds elsewhere" });
            await db.SaveChangesAsync();
        }

        var cut = RenderPalette();
        Search(cut, "refunds");

        Assert.Equal(["Refunds triage"], cut.FindAll("[data-kind=Queue] .palette-title").Select(e => e.TextContent));
        await cut.Find("[data-kind=Queue]").ClickAsync(new());
        Assert.Contains("/review/", Services.GetRequiredService<NavigationManager>().Uri, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ASavedView_ByName_OwnOrShared_NotAnothersPersonalNorAnotherTeams()
    {
        var other = await TestData.CreateTeamAsync(Services);
        await using (var db = await Services.GetRequiredService<IEvalDbContextFactory>().CreateAsync())
        {
            db.AllowCrossTeamWrites();
            db.SavedViews.Add(new SavedView { Id = Guid.NewGuid(), TeamId = _team.Id, Name = "Slow gpt-4o", OwnerId = _team.OwnerId });
            db.SavedViews.Add(new SavedView { Id = Guid.NewGuid(), TeamId = _team.Id, Name = "Slow shared", OwnerId = "someone-else", Shared = true });
            db.SavedViews.Add(new SavedView { Id = Guid.NewGuid(), TeamId = _team.Id, Name = "Slow and private", OwnerId = "someone-else" });
            db.SavedViews.Add(new SavedView { Id = Guid.NewGuid(), TeamId = other.Id, Name = "Slow elsewhere", OwnerId = other.OwnerId, Shared = true });
            await db.SaveChangesAsync();
        }

        var cut = RenderPalette();
        Search(cut, "SLOW");

        Assert.Equal(["Slow gpt-4o", "Slow shared"], cut.FindAll("[data-kind=View] .palette-title").Select(e => e.TextContent));
        await cut.Find("[data-kind=View]").ClickAsync(new());
        Assert.Contains("/traces?view=", Services.GetRequiredService<NavigationManager>().Uri, StringComparison.Ordinal);
    }

    /// <summary>The palette offers exactly the navigation's pages for each role (plus the inbox and the account page).</summary>
    [Theory]
    [InlineData(TeamRole.Viewer)]
    [InlineData(TeamRole.Reviewer)]
    [InlineData(TeamRole.Admin)]
    [InlineData(TeamRole.Owner)]
    public void PalettePages_AreTheNavigationsPages(TeamRole role)
    {
        var nav = Render<TestHost>(p => p.Add(h => h.Team, As(role)).AddChildContent<NavMenu>());
        var navHrefs = nav.FindAll("a[href]").Select(a => "/" + a.GetAttribute("href")!.TrimStart('/')).Order().ToList();

        var pageHrefs = AppPages.All.Where(p => p.Visible(As(role))).Select(p => p.Href)
            .Except(["/notifications", "/account"]).Order().ToList();

        Assert.Equal(navHrefs, pageHrefs);
    }

    [Fact]
    public async Task GettingStarted_TicksEachStep()
    {
        // One host at a time: MudBlazor's popover provider may be rendered once.
        async Task<IRenderedComponent<TestHost>> ChecklistAsync()
        {
            await DisposeComponentsAsync();
            return Render<TestHost>(p => p.Add(h => h.Team, As(TeamRole.Owner)).AddChildContent<GettingStartedChecklist>());
        }

        static string Done(IRenderedComponent<TestHost> cut, string step) => cut.Find($"[data-testid=step-{step}]").GetAttribute("data-done")!;

        var cut = await ChecklistAsync();
        cut.WaitForAssertion(() => Assert.Equal("0 of 5 done", cut.Find("[data-testid=getting-started-progress]").TextContent));
        Assert.Equal("/settings/api-keys?create=true", cut.Find("[data-testid=step-key-action]").GetAttribute("href"));
        Assert.Contains("api/v1/traces", cut.Find("[data-testid=first-trace-command]").TextContent, StringComparison.Ordinal);

        await TestData.CreateKeyAsync(Services, _team.Id, ApiKeyScopes.Ingest);
        cut = await ChecklistAsync();
        cut.WaitForAssertion(() => Assert.Equal("true", Done(cut, "key")));
        Assert.Equal("false", Done(cut, "trace"));

        // Live: the trace arrives while the checklist is open.
        var id = await IngestAsync(new { user_input = "first" });
        cut.WaitForAssertion(() => Assert.Equal("true", Done(cut, "trace")), TimeSpan.FromSeconds(5));
        Assert.Empty(cut.FindAll("[data-testid=first-trace-command]"));
        Assert.Equal($"/traces/{id}", cut.Find("[data-testid=step-review-action]").GetAttribute("href"));
        Assert.Equal("false", Done(cut, "review"));

        await Services.GetRequiredService<ReviewService>().ReviewAsync(id, new ReviewCommand { Action = ReviewAction.Accept });
        cut = await ChecklistAsync();
        cut.WaitForAssertion(() => Assert.Equal("true", Done(cut, "review")));
        Assert.Equal("false", Done(cut, "invite"));

        await TestData.CreateMemberAsync(Services, _team.Id, TeamRole.Reviewer);
        cut = await ChecklistAsync();
        cut.WaitForAssertion(() => Assert.Equal("true", Done(cut, "invite")));
        Assert.Equal("false", Done(cut, "queue"));

        await using (var db = await Services.GetRequiredService<IEvalDbContextFactory>().CreateAsync())
        {
            db.ReviewQueues.Add(new ReviewQueue { Id = Guid.NewGuid(), TeamId = _team.Id, Name = "First queue" });
            await db.SaveChangesAsync();
        }

        cut = await ChecklistAsync();
        cut.WaitForAssertion(() => Assert.Equal("5 of 5 done", cut.Find("[data-testid=getting-started-progress]").TextContent));
    }

    [Fact]
    public void GettingStarted_ForAViewer_AsksForAKeyInsteadOfOfferingTheDialog()
    {
        var cut = Render<TestHost>(p => p.Add(h => h.Team, As(TeamRole.Viewer)).AddChildContent<GettingStartedChecklist>());
        cut.WaitForAssertion(() => Assert.Contains("Ask a team Admin", cut.Find("[data-testid=step-key]").TextContent, StringComparison.Ordinal));
        Assert.Empty(cut.FindAll("[data-testid=step-key-action]"));
    }
}
