using Bunit;
using EvalPlatform.Core.Ingestion;
using EvalPlatform.Core.Reviews;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Core.Traces;
using EvalPlatform.Tests.Infrastructure;
using EvalPlatform.Web.Components.Layout;
using EvalPlatform.Web.Components.Pages.Reviews;
using EvalPlatform.Web.Components.Pages.Settings;
using EvalPlatform.Web.Components.Pages.Traces;
using EvalPlatform.Web.Components.Shared;
using EvalPlatform.Web.Reviews;
using Microsoft.AspNetCore.Components;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor;

namespace EvalPlatform.Tests.Components.Reviews;

/// <summary>The reject dialog, the review panel's keyboard, the settings page and the list's live badges, on real services.</summary>
public sealed class ReviewComponentsTests : BunitTestBase
{
    private readonly CancellationTokenSource _writer = new();
    private TestTeam _team = default!;
    private CurrentTeam _owner = default!;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        _ = Services.GetRequiredService<IngestionQueue>().RunAsync(_writer.Token);
        _team = await TestData.CreateTeamAsync(Services);
        _owner = As(_team.OwnerId, _team.OwnerEmail, TeamRole.Owner);
    }

    private CurrentTeam As(string userId, string email, TeamRole role)
    {
        Services.GetRequiredService<TeamContext>().SetMember(_team.Id, userId, role);
        return new CurrentTeam(userId, email, new Membership(_team.Id, _team.Name, role, null), []);
    }

    private async Task<Guid> IngestAsync(string input)
    {
        await using var scope = Services.CreateAsyncScope();
        scope.ServiceProvider.GetRequiredService<TeamContext>().SetApiKey(_team.Id, Guid.NewGuid(), ApiKeyScopes.Ingest);
        var json = System.Text.Json.JsonSerializer.SerializeToElement(new { user_input = input, response = "An answer." });
        var outcome = await scope.ServiceProvider.GetRequiredService<TraceIngestionService>().IngestOneAsync(json);
        Assert.True(outcome.Items[0].IsStored);
        return outcome.Items[0].Id!.Value;
    }

    /// <summary>The review as stored, read in a scope of its own (not through the component under test).</summary>
    private async Task<TraceReview> StoredAsync(Guid id)
    {
        await using var scope = Services.CreateAsyncScope();
        scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(_team.Id, _team.OwnerId, TeamRole.Owner);
        return await scope.ServiceProvider.GetRequiredService<ReviewService>().GetAsync(id);
    }

    private async Task ReviewElsewhereAsync(Guid id, ReviewCommand command)
    {
        await using var scope = Services.CreateAsyncScope();
        scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(_team.Id, _team.OwnerId, TeamRole.Owner);
        await scope.ServiceProvider.GetRequiredService<ReviewService>().ReviewAsync(id, command);
    }

    private static List<RejectionReason> Reasons(int count) =>
        Enumerable.Range(0, count).Select(i => new RejectionReason
        {
            Id = Guid.NewGuid(), Key = i < ReviewSettingsService.DefaultReasons.Count ? ReviewScores.KeyOf(ReviewSettingsService.DefaultReasons[i].Label) : $"reason_{i + 1}",
            Label = i < ReviewSettingsService.DefaultReasons.Count ? ReviewSettingsService.DefaultReasons[i].Label : $"Reason {i + 1}", Position = i,
            Description = i < ReviewSettingsService.DefaultReasons.Count ? ReviewSettingsService.DefaultReasons[i].Description : null,
        }).ToList();

    private IRenderedComponent<TestHost> Host(CurrentTeam team, RenderFragment child) =>
        Render<TestHost>(p => p.Add(h => h.Team, team).Add(h => h.ChildContent, child));

    private async Task<IDialogReference> ShowRejectDialogAsync(IRenderedComponent<TestHost> host, IReadOnlyList<RejectionReason> reasons, ShortcutRelay? relay)
    {
        var parameters = new DialogParameters<RejectDialog> { { d => d.Reasons, reasons }, { d => d.Relay, relay } };
        return await host.InvokeAsync(() => Services.GetRequiredService<IDialogService>().ShowAsync<RejectDialog>("Reject", parameters));
    }

    [Fact]
    public async Task RejectDialog_OneClickPicksTheReason_WithTheOptionalDetail()
    {
        var host = Host(_owner, b => b.AddContent(0, "page"));
        var dialog = await ShowRejectDialogAsync(host, Reasons(6), relay: null);
        host.WaitForAssertion(() => Assert.Equal(6, host.FindAll("[data-testid=reject-reason]").Count));
        Assert.Equal(["1", "2", "3", "4", "5", "6"], host.FindAll("[data-testid=reject-reason] kbd").Select(k => k.TextContent));
        Assert.Contains("Called the wrong tool", host.Find("[data-testid=reject-reason][data-key=incorrect_tool_call]").TextContent, StringComparison.Ordinal);

        await host.Find("textarea[data-testid=reject-detail], [data-testid=reject-detail] textarea").ChangeAsync(new() { Value = "  Calls refund() for a shipping question. " });
        // Not awaited (MudBlazor dialogs): the result comes from the dialog reference.
        _ = host.FindAll("[data-testid=reject-reason]")[1].ClickAsync(new());

        var result = await dialog.Result.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(new RejectChoice("incorrect_tool_call", "Calls refund() for a shipping question."), result!.Data);
    }

    [Fact]
    public async Task RejectDialog_Keys1To9PickAReason_EvenWhenPressedBeforeItRendered_OtherKeysDoNothing()
    {
        var host = Host(_owner, b => b.AddContent(0, "page"));
        var relay = new ShortcutRelay();
        var reasons = Reasons(11);

        var dialog = await ShowRejectDialogAsync(host, reasons, relay);
        await host.InvokeAsync(() => relay.SendAsync("a"));
        await host.InvokeAsync(() => relay.SendAsync("0"));
        await host.InvokeAsync(() => relay.SendAsync("9"));

        var result = await dialog.Result.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(new RejectChoice("reason_9", null), result!.Data);
    }

    [Fact]
    public async Task RejectDialog_ReasonsPastNine_HaveNoKey_AndEscapeOrCancelCancels()
    {
        var host = Host(_owner, b => b.AddContent(0, "page"));
        var dialog = await ShowRejectDialogAsync(host, Reasons(11), new ShortcutRelay());
        host.WaitForAssertion(() => Assert.Equal(11, host.FindAll("[data-testid=reject-reason]").Count));
        Assert.Equal(9, host.FindAll("[data-testid=reject-reason] kbd:not(.invisible)").Count);

        _ = host.Find("[data-testid=reject-cancel]").ClickAsync(new());

        Assert.True((await dialog.Result.WaitAsync(TimeSpan.FromSeconds(5)))!.Canceled);
    }

    [Fact]
    public async Task Panel_KeysReviewTheTrace_AThenRThen1ThenSThenU()
    {
        var id = await IngestAsync("Where is my order?");
        var host = Host(_owner, b => { b.OpenComponent<TraceReviewPanel>(0); b.AddAttribute(1, nameof(TraceReviewPanel.TraceId), id); b.CloseComponent(); });
        host.WaitForAssertion(() => Assert.NotEmpty(host.FindAll("[data-testid=review-accept]")));
        var keys = host.FindComponent<KeyboardShortcuts>().Instance;
        JSInterop.VerifyInvoke("evalPlatform.shortcuts.attach");

        await host.InvokeAsync(() => keys.OnKeyAsync("a"));
        Assert.Equal((ReviewStatus.Accepted, 1.0), ((await StoredAsync(id)).Status, (await StoredAsync(id)).Score));
        host.WaitForAssertion(() => Assert.Equal("accepted", host.Find("[data-testid=review-status]").GetAttribute("data-status")));
        host.WaitForAssertion(() => Assert.Contains("Accepted", host.Find(".mud-snackbar").TextContent, StringComparison.Ordinal));

        // R opens the dialog (its answer comes later, so the key is not awaited); 1 picks the first reason.
        _ = host.InvokeAsync(() => keys.OnKeyAsync("r"));
        host.WaitForAssertion(() => Assert.NotEmpty(host.FindAll("[data-testid=reject-dialog]")));
        await host.InvokeAsync(() => keys.OnKeyAsync("1"));
        host.WaitForAssertion(() => Assert.Equal("rejected", host.Find("[data-testid=review-status]").GetAttribute("data-status")));
        Assert.Empty(host.FindAll("[data-testid=reject-dialog]"));
        var rejected = await StoredAsync(id);
        Assert.Equal((ReviewStatus.Rejected, "hallucination", 0.0), (rejected.Status, rejected.Reason, rejected.Score));
        Assert.Equal("hallucination", host.Find("[data-testid=review-reason]").GetAttribute("data-key"));

        await host.InvokeAsync(() => keys.OnKeyAsync("s"));
        Assert.Equal(ReviewStatus.NeedsReview, (await StoredAsync(id)).Status);
        await host.InvokeAsync(() => keys.OnKeyAsync("u"));
        Assert.Equal(ReviewStatus.Rejected, (await StoredAsync(id)).Status);
        host.WaitForAssertion(() => Assert.Equal(4, host.FindAll("[data-testid=history-item]").Count));
        Assert.Equal("undo", host.FindAll("[data-testid=history-item]")[0].GetAttribute("data-action"));
    }

    [Fact]
    public async Task Panel_JAndKMove_QuestionMarkShowsTheShortcuts_AndOneToFiveScoresByDigit()
    {
        var id = await IngestAsync("Score me");
        await using (var scope = Services.CreateAsyncScope())
        {
            scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(_team.Id, _team.OwnerId, TeamRole.Owner);
            await scope.ServiceProvider.GetRequiredService<ReviewSettingsService>().SetScaleAsync(ScoreScale.OneToFive);
        }

        var moves = new List<string>();
        var host = Host(_owner, b =>
        {
            b.OpenComponent<TraceReviewPanel>(0);
            b.AddAttribute(1, nameof(TraceReviewPanel.TraceId), id);
            b.AddAttribute(2, nameof(TraceReviewPanel.OnNext), EventCallback.Factory.Create(this, () => moves.Add("next")));
            b.AddAttribute(3, nameof(TraceReviewPanel.OnPrevious), EventCallback.Factory.Create(this, () => moves.Add("previous")));
            b.CloseComponent();
        });
        host.WaitForAssertion(() => Assert.NotEmpty(host.FindAll("[data-testid=score-rating]")));
        var keys = host.FindComponent<KeyboardShortcuts>().Instance;

        await host.InvokeAsync(() => keys.OnKeyAsync("j"));
        await host.InvokeAsync(() => keys.OnKeyAsync("k"));
        Assert.Equal(["next", "previous"], moves);

        await host.InvokeAsync(() => keys.OnKeyAsync("4"));
        Assert.Equal(4.0, (await StoredAsync(id)).Score);
        await host.InvokeAsync(() => keys.OnKeyAsync("a"));
        Assert.Equal((ReviewStatus.Accepted, 4.0), ((await StoredAsync(id)).Status, (await StoredAsync(id)).Score));

        _ = host.InvokeAsync(() => keys.OnKeyAsync("?"));
        host.WaitForAssertion(() => Assert.Contains("Reject, then pick the reason", host.Find("[data-testid=shortcuts-dialog]").TextContent, StringComparison.Ordinal));
        // While the shortcuts are open, review keys do nothing.
        await host.InvokeAsync(() => keys.OnKeyAsync("s"));
        Assert.Equal(ReviewStatus.Accepted, (await StoredAsync(id)).Status);
    }

    [Fact]
    public async Task Panel_ForAViewer_ShowsTheReviewButNoActions_AndItsKeysDoNothing()
    {
        var id = await IngestAsync("Look, do not touch");
        await ReviewElsewhereAsync(id, ReviewCommand.Reject("off_topic", "About <b>refunds</b>") with { SetsNote = true, Note = "<script>window.x=1</script>" });
        var (viewerId, viewerEmail) = await TestData.CreateMemberAsync(Services, _team.Id, TeamRole.Viewer);
        var viewer = As(viewerId, viewerEmail, TeamRole.Viewer);
        var moves = 0;

        var host = Host(viewer, b =>
        {
            b.OpenComponent<TraceReviewPanel>(0);
            b.AddAttribute(1, nameof(TraceReviewPanel.TraceId), id);
            b.AddAttribute(2, nameof(TraceReviewPanel.OnNext), EventCallback.Factory.Create(this, () => moves++));
            b.CloseComponent();
        });
        host.WaitForAssertion(() => Assert.Equal("rejected", host.Find("[data-testid=review-status]").GetAttribute("data-status")));

        Assert.Empty(host.FindAll("[data-testid=review-accept], [data-testid=review-reject], [data-testid=review-needs-review], [data-testid=review-undo], textarea"));
        // People's text is plain text: nothing in a note or a detail becomes markup.
        Assert.Equal("<script>window.x=1</script>", host.Find("[data-testid=review-note-text]").TextContent);
        Assert.Empty(host.FindAll("[data-testid=review-panel] script, [data-testid=review-panel] b"));
        Assert.Contains("About <b>refunds</b>", host.Find("[data-testid=review-reason]").TextContent, StringComparison.Ordinal);

        var keys = host.FindComponent<KeyboardShortcuts>().Instance;
        await host.InvokeAsync(() => keys.OnKeyAsync("a"));
        await host.InvokeAsync(() => keys.OnKeyAsync("u"));
        await host.InvokeAsync(() => keys.OnKeyAsync("j"));
        Assert.Equal((ReviewStatus.Rejected, 1), ((await StoredAsync(id)).Status, (await StoredAsync(id)).Version));
        Assert.Equal(1, moves);
    }

    [Fact]
    public async Task Panel_ShowsAnotherReviewersChange_WhenThePageBumpsTheRevision_WithoutLosingANoteBeingWritten()
    {
        var id = await IngestAsync("Two reviewers");
        var revision = 0;
        var host = Host(_owner, b =>
        {
            b.OpenComponent<TraceReviewPanel>(0);
            b.AddAttribute(1, nameof(TraceReviewPanel.TraceId), id);
            b.AddAttribute(2, nameof(TraceReviewPanel.Revision), revision);
            b.CloseComponent();
        });
        host.WaitForAssertion(() => Assert.NotEmpty(host.FindAll("textarea[data-testid=review-note]")));
        Assert.True(host.Find("[data-testid=review-save-note]").HasAttribute("disabled"));
        await host.Find("textarea[data-testid=review-note]").InputAsync(new() { Value = "half-written thought" });
        Assert.False(host.Find("[data-testid=review-save-note]").HasAttribute("disabled"));

        await ReviewElsewhereAsync(id, ReviewCommand.Reject("formatting"));
        revision++;
        host.Render();

        host.WaitForAssertion(() => Assert.Equal("rejected", host.Find("[data-testid=review-status]").GetAttribute("data-status")));
        // The server never wrote over the field, and the draft is still what Save sends.
        Assert.Null(host.Find("textarea[data-testid=review-note]").GetAttribute("value"));
        await host.Find("[data-testid=review-save-note]").ClickAsync(new());
        var stored = await StoredAsync(id);
        Assert.Equal((ReviewStatus.Rejected, "half-written thought"), (stored.Status, stored.Note));
        Assert.Equal("half-written thought", host.Find("textarea[data-testid=review-note]").GetAttribute("value"));
    }

    [Fact]
    public async Task TracesPage_ABadgeChangesLive_EvenForARowTheFilteredNewestPageNoLongerHolds()
    {
        var id = await IngestAsync("reviewed while listed");
        var navigation = Services.GetRequiredService<NavigationManager>();
        navigation.NavigateTo("/traces?status=pending");
        var host = Host(_owner, b => { b.OpenComponent<TracesPage>(0); b.CloseComponent(); });
        host.WaitForAssertion(() => Assert.Equal("Pending", host.Find($"tr[data-trace-id='{id}'] [data-testid=status-badge]").GetAttribute("data-status")));

        await ReviewElsewhereAsync(id, ReviewCommand.Reject("incomplete"));

        host.WaitForAssertion(
            () => Assert.Equal("Rejected", host.Find($"tr[data-trace-id='{id}'] [data-testid=status-badge]").GetAttribute("data-status")),
            TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task ReviewSettingsPage_AnAdminAddsAReason_AndChangesTheScale()
    {
        var host = Host(_owner, b => { b.OpenComponent<ReviewSettingsPage>(0); b.CloseComponent(); });
        host.WaitForAssertion(() => Assert.Equal(6, host.FindAll("[data-testid=reason-row-label]").Count));

        _ = host.Find("[data-testid=add-reason]").ClickAsync(new());
        host.WaitForAssertion(() => Assert.NotEmpty(host.FindAll("[data-testid=save-reason]")));
        await host.Find("input[data-testid=reason-label], [data-testid=reason-label] input").ChangeAsync(new() { Value = "Wrong language" });
        await host.Find("[data-testid=save-reason]").ClickAsync(new());

        host.WaitForAssertion(() => Assert.Equal("Wrong language", host.FindAll("[data-testid=reason-row-label]")[^1].TextContent));
        Assert.Contains("wrong_language", host.Find("[data-testid=reasons-table]").TextContent, StringComparison.Ordinal);

        await host.Find("input[data-testid=scale-one_to_five], [data-testid=scale-one_to_five] input").ClickAsync(new());
        host.WaitForAssertion(() => Assert.Contains("Reviewers now score 1 to 5", host.Markup, StringComparison.Ordinal));
        Assert.Equal(ScoreScale.OneToFive, (await SettingsAsync()).Scale);
    }

    private async Task<ReviewConfig> SettingsAsync()
    {
        await using var scope = Services.CreateAsyncScope();
        scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(_team.Id, _team.OwnerId, TeamRole.Owner);
        return await scope.ServiceProvider.GetRequiredService<ReviewSettingsService>().GetAsync();
    }

    [Theory]
    [InlineData(TeamRole.Viewer, false)]
    [InlineData(TeamRole.Reviewer, false)]
    [InlineData(TeamRole.Admin, true)]
    [InlineData(TeamRole.Owner, true)]
    public void ReviewSettings_AreOfferedToAdminsAndOwnersOnly(TeamRole role, bool shown)
    {
        var team = As("user-x", "x@example.test", role);

        var host = Host(team, b =>
        {
            b.OpenComponent<NavMenu>(0);
            b.CloseComponent();
            b.OpenComponent<ReviewSettingsPage>(1);
            b.CloseComponent();
        });

        Assert.Equal(shown, host.FindComponent<NavMenu>().Markup.Contains("/settings/review", StringComparison.Ordinal));
        Assert.Equal(!shown, host.FindComponent<ReviewSettingsPage>().Markup.Contains("needs the Admin or Owner role", StringComparison.Ordinal));
    }

    protected override async Task CleanupAsync()
    {
        await _writer.CancelAsync();
        _writer.Dispose();
    }
}
