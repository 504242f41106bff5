using Bunit;
using EvalPlatform.Core.Ingestion;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Core.Traces;
using EvalPlatform.Core.Traces.Views;
using EvalPlatform.Tests.Infrastructure;
using EvalPlatform.Web.Components.Layout;
using EvalPlatform.Web.Components.Pages.Traces;
using EvalPlatform.Web.Traces;
using Microsoft.AspNetCore.Components;
using Microsoft.Extensions.DependencyInjection;

using MudBlazor;

namespace EvalPlatform.Tests.Components.Traces;

/// <summary>
/// Issue 13's trace list on real services: the reader's columns (kept on the server), cells that truncate with the whole
/// value as tooltip, plain-text previews, phone cards, search applied as you type, removable filter chips, "Clear filters"
/// when nothing matches, and a saved view's filters and columns.
/// </summary>
public sealed class TraceListUxTests : BunitTestBase
{
    private readonly CancellationTokenSource _writer = new();
    private TestTeam _team = default!;
    private CurrentTeam _current = default!;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        _ = Services.GetRequiredService<IngestionQueue>().RunAsync(_writer.Token);
        _team = await TestData.CreateTeamAsync(Services);
        _current = new CurrentTeam(_team.OwnerId, _team.OwnerEmail, new Membership(_team.Id, _team.Name, TeamRole.Owner, null), []);
        Services.GetRequiredService<TeamContext>().SetMember(_team.Id, _team.OwnerId, TeamRole.Owner);
    }

    private async Task IngestAsync(object trace)
    {
        await using var scope = Services.CreateAsyncScope();
        scope.ServiceProvider.GetRequiredService<TeamContext>().SetApiKey(_team.Id, Guid.NewGuid(), ApiKeyScopes.Ingest);
        var json = System.Text.Json.JsonSerializer.SerializeToElement(trace);
        var outcome = await scope.ServiceProvider.GetRequiredService<TraceIngestionService>().IngestOneAsync(json);
        Assert.True(outcome.Items[0].IsStored);
    }

    private IRenderedComponent<TestHost> RenderPage() => Render<TestHost>(p => p.Add(h => h.Team, _current).AddChildContent<TracesPage>());

    private static List<string> Headers(IRenderedComponent<TestHost> cut) =>
        cut.FindAll("[data-testid=traces-table] thead th[data-column]").Select(th => th.GetAttribute("data-column")!).ToList();

    [Fact]
    public async Task TheReadersSavedColumns_AreTheTablesColumns_InTheirOrder_WithStatusAlwaysIn()
    {
        await IngestAsync(new { user_input = "hello", model = "gpt-4o", cost = 0.0123 });
        await Services.GetRequiredService<SavedViewService>().SaveColumnsAsync(["cost", "time", "model"]);

        var cut = RenderPage();

        cut.WaitForAssertion(() => Assert.Equal(["status", "cost", "time", "model"], Headers(cut)));
        var cells = cut.Find("tr.trace-row").QuerySelectorAll("td:not(.trace-phone-only)");
        Assert.Equal(4, cells.Length);
        Assert.Equal("$0.0123", cells[1].TextContent.Trim());
        // The phone card's fields that are not columns are cells of their own, shown on a phone only; the ones that are
        // columns are not repeated (a screen reader reads each value once, a locator finds it once).
        var phoneOnly = cut.FindAll("tr.trace-row td.trace-phone-only").Select(td => td.GetAttribute("data-column")).ToList();
        Assert.Equal(["name", "input"], phoneOnly);
        Assert.Equal("hello", cut.Find("tr.trace-row td.trace-phone-only[data-column=input]").TextContent.Trim());
        Assert.Single(cut.FindAll("tr.trace-row [data-testid=status-badge]"));
    }

    [Fact]
    public async Task DefaultColumns_PutStatusBesideTheTime_AndEveryTextCellCarriesItsWholeValueAsTooltip()
    {
        var longName = "a-very-long-trace-name-" + new string('x', 120);
        await IngestAsync(new { name = longName, user_input = "**Refund** for _order_ 42:\n\n- item one\n- item two", model = "gpt-4o" });

        var cut = RenderPage();

        cut.WaitForAssertion(() => Assert.Equal(TraceListColumns.Default, Headers(cut)));
        Assert.Equal("time", Headers(cut)[0]);
        Assert.Equal("status", Headers(cut)[1]);
        var row = cut.Find("tr.trace-row");
        Assert.Equal(longName, row.QuerySelector("td[data-label=Name]")!.GetAttribute("title"));
        // Previews as plain text: no raw Markdown in the list, in the table or in the phone card.
        var input = row.QuerySelector("td[data-label=Input]")!.TextContent.Trim();
        Assert.Equal("Refund for order 42: item one item two", input);
        // The phone card is the row's own cells (the default columns hold all its fields): status, name, time; model,
        // latency, cost; the input. Nothing is in the row twice.
        var card = row.QuerySelectorAll("td.trace-card");
        Assert.Equal(["time", "status", "name", "model", "input"], card.Select(td => td.GetAttribute("data-column")));
        Assert.Empty(row.QuerySelectorAll("td.trace-phone-only"));
        Assert.Single(row.QuerySelectorAll("[data-testid=status-badge]"));
        Assert.Contains("trace-card-meta-first", row.QuerySelector("td[data-column=model]")!.ClassName, StringComparison.Ordinal);
        Assert.DoesNotContain("**", string.Concat(card.Select(td => td.TextContent)), StringComparison.Ordinal);
        Assert.Equal(1, CountOf(row.TextContent, "gpt-4o"));
        Assert.Equal(1, CountOf(row.TextContent, "Refund for order 42"));
    }

    [Fact]
    public async Task AnErroredRow_OnAPhone_ShowsTheErrorWhereThePreviewWouldBe_EvenWithoutTheResponseColumn()
    {
        await IngestAsync(new { user_input = "hello", model = "gpt-4o", error = "rate limited by the provider" });
        await Services.GetRequiredService<SavedViewService>().SaveColumnsAsync(["time", "input"]);

        var cut = RenderPage();

        cut.WaitForAssertion(() => Assert.Equal(["time", "status", "input"], Headers(cut)));
        var row = cut.Find("tr.trace-row");
        // The input is a column but not the card's preview (the error is); the error is a phone-only cell.
        Assert.DoesNotContain("trace-card", row.QuerySelector("td[data-column=input]")!.ClassName ?? "", StringComparison.Ordinal);
        var error = row.QuerySelector("td.trace-phone-only[data-column=response]")!;
        Assert.Contains("trace-card-preview", error.ClassName, StringComparison.Ordinal);
        Assert.Contains("rate limited by the provider", error.TextContent, StringComparison.Ordinal);
        Assert.Equal(1, CountOf(row.TextContent, "rate limited by the provider"));
        Assert.Single(row.QuerySelectorAll("[data-testid=error-badge]"));
    }

    private static int CountOf(string text, string part)
    {
        var count = 0;
        for (var at = text.IndexOf(part, StringComparison.Ordinal); at >= 0; at = text.IndexOf(part, at + part.Length, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }

    [Fact]
    public async Task Search_AppliesAsYouType_WithoutEnter()
    {
        await IngestAsync(new { user_input = "about refunds" });
        await IngestAsync(new { user_input = "about shipping" });
        var navigation = Services.GetRequiredService<NavigationManager>();
        var cut = RenderPage();
        cut.WaitForAssertion(() => Assert.Equal(2, cut.FindAll("tr.trace-row").Count));

        await cut.Find("input[data-testid=filter-search], [data-testid=filter-search] input").InputAsync(new() { Value = "refund" });

        cut.WaitForAssertion(() => Assert.EndsWith("/traces?search=refund", navigation.Uri, StringComparison.Ordinal), TimeSpan.FromSeconds(5));
        cut.WaitForAssertion(() => Assert.Single(cut.FindAll("tr.trace-row")));
    }

    [Fact]
    public async Task ActiveFilters_AreChips_EachRemovable_AndNoResultsOffersClearFilters()
    {
        await IngestAsync(new { user_input = "about refunds", model = "gpt-4o" });
        var navigation = Services.GetRequiredService<NavigationManager>();
        navigation.NavigateTo("/traces?status=rejected&model=GPT");

        var cut = RenderPage();

        cut.WaitForAssertion(() => Assert.NotNull(cut.Find("[data-testid=traces-none-match]")));
        var chips = cut.FindAll("[data-testid=filter-chip]").Select(c => c.GetAttribute("data-filter")).ToList();
        Assert.Equal(["model", "status"], chips);

        await cut.Find("[data-testid=filter-chip][data-filter=status] .mud-chip-close-button").ClickAsync(new());
        Assert.EndsWith("/traces?model=GPT", navigation.Uri, StringComparison.Ordinal);
        // "GPT" finds gpt-4o: the model filter is partial and without case.
        cut.WaitForAssertion(() => Assert.Single(cut.FindAll("tr.trace-row")));

        navigation.NavigateTo("/traces?model=nothing-like-this");
        cut.WaitForAssertion(() => Assert.NotNull(cut.Find("[data-testid=clear-filters]")));
        await cut.Find("[data-testid=clear-filters]").ClickAsync(new());
        Assert.EndsWith("/traces", navigation.Uri, StringComparison.Ordinal);
        cut.WaitForAssertion(() => Assert.Single(cut.FindAll("tr.trace-row")));
        Assert.Empty(cut.FindAll("[data-testid=filter-chip]"));
    }

    [Fact]
    public async Task PickingASavedView_AppliesItsFiltersAndColumns()
    {
        await IngestAsync(new { user_input = "about refunds", model = "gpt-4o" });
        await IngestAsync(new { user_input = "about shipping", model = "claude-sonnet-4" });
        await Services.GetRequiredService<SavedViewService>().CreateAsync(
            new SavedViewInput("Claude only", new TraceFilter(Model: "claude"), ["time", "model", "input"], Shared: true));
        var navigation = Services.GetRequiredService<NavigationManager>();
        var cut = RenderPage();
        cut.WaitForAssertion(() => Assert.Equal(2, cut.FindAll("tr.trace-row").Count));

        await cut.Find("[data-testid=views-menu] button").ClickAsync(new());
        cut.WaitForAssertion(() => Assert.NotNull(cut.Find("[data-testid=view-item][data-view='Claude only']")));
        await cut.Find("[data-testid=view-item][data-view='Claude only']").ClickAsync(new());

        Assert.EndsWith("/traces?model=claude", navigation.Uri, StringComparison.Ordinal);
        cut.WaitForAssertion(() =>
        {
            Assert.Equal(["time", "status", "model", "input"], Headers(cut));
            Assert.Single(cut.FindAll("tr.trace-row"));
        });
    }

    [Fact]
    public async Task ALinkToASavedView_AppliesIt_AndAGoneOneSaysSo()
    {
        await IngestAsync(new { user_input = "about refunds", model = "gpt-4o" });
        await IngestAsync(new { user_input = "about shipping", model = "claude-sonnet-4" });
        var view = await Services.GetRequiredService<SavedViewService>().CreateAsync(
            new SavedViewInput("Claude only", new TraceFilter(Model: "claude"), ["time", "model", "input"], Shared: false));
        var navigation = Services.GetRequiredService<NavigationManager>();
        navigation.NavigateTo($"/traces?view={view.Id}");

        // What the command palette opens: the view's filters replace the address, its columns are the table's.
        var cut = RenderPage();
        cut.WaitForAssertion(() =>
        {
            Assert.EndsWith("/traces?model=claude", navigation.Uri, StringComparison.Ordinal);
            Assert.Equal(["time", "status", "model", "input"], Headers(cut));
            Assert.Single(cut.FindAll("tr.trace-row"));
            Assert.Contains("Claude only", cut.Find("[data-testid=views-menu]").TextContent, StringComparison.Ordinal);
        });

        // Opened again on the open page, for a view that is gone: it says so and the list stays.
        navigation.NavigateTo($"/traces?view={Guid.NewGuid()}");
        cut.WaitForAssertion(() => Assert.Contains(Services.GetRequiredService<ISnackbar>().ShownSnackbars,
            s => s.Message?.Contains("no longer exists", StringComparison.Ordinal) == true));
        Assert.Empty(cut.FindAll(".mud-alert-text-error"));
    }

    [Fact]
    public void PlainPreview_TurnsMarkdownIntoOneLineOfText()
    {
        Assert.Equal("Title Some bold and code.", TracePreviewText.Plain("# Title\n\nSome **bold** and `code`."));
        // As stored: one line, so the list and heading markers are no longer Markdown.
        Assert.Equal("Answer We are sorry It ships", TracePreviewText.Plain("## Answer - We are sorry - It ships"));
        Assert.Null(TracePreviewText.Plain(null));
    }

    protected override async Task CleanupAsync()
    {
        await _writer.CancelAsync();
        _writer.Dispose();
    }
}
