using Bunit;
using EvalPlatform.Core.Ingestion;
using EvalPlatform.Core.Queues;
using EvalPlatform.Core.Reviews;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Core.Traces;
using EvalPlatform.Tests.Infrastructure;
using EvalPlatform.Web.Components.Layout;
using EvalPlatform.Web.Components.Pages.Queues;
using EvalPlatform.Web.Components.Pages.Reviews;
using EvalPlatform.Web.Components.Shared;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Web;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor;

namespace EvalPlatform.Tests.Components.Reviews;

/// <summary>Issue 13's reviewing defects: toasts bound to their trace, the score rule, one key map.</summary>
public sealed class ReviewUxTests : BunitTestBase
{
    private readonly CancellationTokenSource _writer = new();
    private TestTeam _team = default!;
    private CurrentTeam _owner = default!;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        _ = Services.GetRequiredService<IngestionQueue>().RunAsync(_writer.Token);
        _team = await TestData.CreateTeamAsync(Services);
        Services.GetRequiredService<TeamContext>().SetMember(_team.Id, _team.OwnerId, TeamRole.Owner);
        _owner = new CurrentTeam(_team.OwnerId, _team.OwnerEmail, new Membership(_team.Id, _team.Name, TeamRole.Owner, null), []);
    }

    protected override async Task CleanupAsync()
    {
        await _writer.CancelAsync();
        _writer.Dispose();
    }

    private async Task<Guid> IngestAsync(string input, string? error = null)
    {
        await using var scope = Services.CreateAsyncScope();
        scope.ServiceProvider.GetRequiredService<TeamContext>().SetApiKey(_team.Id, Guid.NewGuid(), ApiKeyScopes.Ingest);
        var json = System.Text.Json.JsonSerializer.SerializeToElement(new { name = input, user_input = input, response = "An answer.", error });
        var outcome = await scope.ServiceProvider.GetRequiredService<TraceIngestionService>().IngestOneAsync(json);
        Assert.True(outcome.Items[0].IsStored);
        return outcome.Items[0].Id!.Value;
    }

    private async Task<TraceReview> StoredAsync(Guid id)
    {
        await using var scope = Services.CreateAsyncScope();
        scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(_team.Id, _team.OwnerId, TeamRole.Owner);
        return await scope.ServiceProvider.GetRequiredService<ReviewService>().GetAsync(id);
    }

    /// <summary>The review panel as the trace view hosts it, with the trace id a parameter the test changes (J).</summary>
    private sealed class PanelHost : ComponentBase
    {
        [Parameter] public CurrentTeam Team { get; set; } = default!;
        [Parameter] public Guid TraceId { get; set; }

        protected override void BuildRenderTree(Microsoft.AspNetCore.Components.Rendering.RenderTreeBuilder builder)
        {
            builder.OpenComponent<TestHost>(0);
            builder.AddAttribute(1, nameof(TestHost.Team), Team);
            builder.AddAttribute(2, nameof(TestHost.ChildContent), (RenderFragment)(b =>
            {
                b.OpenComponent<TraceReviewPanel>(0);
                b.AddAttribute(1, nameof(TraceReviewPanel.TraceId), TraceId);
                b.CloseComponent();
            }));
            builder.CloseComponent();
        }
    }

    private IReadOnlyList<Snackbar> Toasts() => [.. Services.GetRequiredService<ISnackbar>().ShownSnackbars];

    [Fact]
    public async Task Toasts_OneAtATime_AndMovingToAnotherTraceTakesThePreviousTracesUndoAway()
    {
        var first = await IngestAsync("first");
        var second = await IngestAsync("second");
        var cut = Render<PanelHost>(p => p.Add(h => h.Team, _owner).Add(h => h.TraceId, first));
        cut.WaitForAssertion(() => Assert.NotEmpty(cut.FindAll("[data-testid=review-accept]")));
        var keys = cut.FindComponent<KeyboardShortcuts>().Instance;

        await cut.InvokeAsync(() => keys.OnKeyAsync("a"));
        await cut.InvokeAsync(() => keys.OnKeyAsync("s"));
        var shown = Assert.Single(Toasts());
        Assert.Contains("Marked for review", shown.Message, StringComparison.Ordinal);

        // J: the page gives the panel the next trace; the first trace's "Undo" must not stay to act there.
        cut.Render(p => p.Add(h => h.TraceId, second));
        cut.WaitForAssertion(() => Assert.Equal(second, cut.FindComponent<TraceReviewPanel>().Instance.TraceId));
        cut.WaitForAssertion(() => Assert.Empty(Toasts()));

        await cut.InvokeAsync(() => keys.OnKeyAsync("a"));
        Assert.Contains("Accepted", Assert.Single(Toasts()).Message, StringComparison.Ordinal);
        Assert.Equal(ReviewStatus.NeedsReview, (await StoredAsync(first)).Status);
        Assert.Equal(ReviewStatus.Accepted, (await StoredAsync(second)).Status);
    }

    [Fact]
    public async Task Score_RejectingScoresBadVisibly_AndClickingBadKeepsBad_ClearIsExplicit()
    {
        var id = await IngestAsync("to reject");
        var cut = Render<PanelHost>(p => p.Add(h => h.Team, _owner).Add(h => h.TraceId, id));
        cut.WaitForAssertion(() => Assert.NotEmpty(cut.FindAll("[data-testid=review-accept]")));
        var keys = cut.FindComponent<KeyboardShortcuts>().Instance;
        Assert.Contains("Reject scores Bad", cut.Find("[data-testid=score-rule]").TextContent, StringComparison.Ordinal);

        _ = cut.InvokeAsync(() => keys.OnKeyAsync("r"));
        cut.WaitForAssertion(() => Assert.NotEmpty(cut.FindAll("[data-testid=reject-dialog]")));
        await cut.InvokeAsync(() => keys.OnKeyAsync("1"));
        cut.WaitForAssertion(() => Assert.Equal("true", cut.Find("[data-testid=score-bad]").GetAttribute("aria-pressed")));
        Assert.Contains("scored bad", Assert.Single(Toasts()).Message, StringComparison.Ordinal);

        await cut.Find("[data-testid=score-bad]").ClickAsync(new MouseEventArgs());
        var stored = await StoredAsync(id);
        Assert.Equal((ReviewStatus.Rejected, ReviewScores.Bad), (stored.Status, stored.Score));
        cut.WaitForAssertion(() => Assert.Equal("true", cut.Find("[data-testid=score-bad]").GetAttribute("aria-pressed")));

        await cut.Find("[data-testid=score-clear]").ClickAsync(new MouseEventArgs());
        stored = await StoredAsync(id);
        Assert.Equal((ReviewStatus.Rejected, (double?)null), (stored.Status, stored.Score));
    }

    [Fact]
    public async Task Queue_UsesTheTraceViewsKeys_SMarksForReview_NGoesToTheNote_QuestionMarkShowsTheMap()
    {
        await IngestAsync("in the queue", error: "upstream timeout");
        var queue = await Services.GetRequiredService<QueueService>().CreateAsync(new QueueDefinition("Everything", new TraceFilter()));
        var cut = Render<TestHost>(p => p.Add(h => h.Team, _owner).AddChildContent<QueuePage>(c => c.Add(x => x.QueueId, queue.Id)));
        cut.WaitForAssertion(() => cut.Find("[data-testid=queue-work]"));

        // An errored trace is badged in the queue, and its Chat shows the error where the answer would be.
        Assert.NotEmpty(cut.FindAll("[data-testid=queue-work] [data-testid=error-badge]"));
        Assert.Contains("upstream timeout", cut.Find("[data-testid=chat-error]").TextContent, StringComparison.Ordinal);

        cut.Find("[data-testid=queue-work]").KeyDown(new KeyboardEventArgs { Key = "s" });
        cut.WaitForAssertion(() => Assert.Equal("true", cut.Find("[data-testid=verdict-needsreview]").GetAttribute("aria-pressed")));
        cut.Find("[data-testid=queue-work]").KeyDown(new KeyboardEventArgs { Key = "n" });
        Assert.Equal("true", cut.Find("[data-testid=verdict-needsreview]").GetAttribute("aria-pressed"));
        // N put the focus into the note field (in a queue it used to mean "needs review").
        var focused = (ElementReference)JSInterop.Invocations.Last(i => i.Identifier.EndsWith("focus", StringComparison.OrdinalIgnoreCase)).Arguments[0]!;
        var note = cut.Find("textarea[data-testid=verdict-note], [data-testid=verdict-note] textarea");
        Assert.Equal(note.GetAttribute("blazor:elementReference"), focused.Id);

        cut.Find("[data-testid=queue-work]").KeyDown(new KeyboardEventArgs { Key = "?" });
        cut.WaitForAssertion(() => cut.Find("[data-testid=shortcuts-dialog]"));
        var rows = cut.FindAll("[data-testid=shortcut-row]").Select(r => r.TextContent).ToList();
        Assert.Contains(rows, r => r.StartsWith('S') && r.Contains("Mark for review", StringComparison.Ordinal));
        Assert.Contains(rows, r => r.StartsWith('N') && r.Contains("Write a note", StringComparison.Ordinal));
        Assert.DoesNotContain(rows, r => r.StartsWith('U'));
    }
}
