using EvalPlatform.Core.Reviews;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Traces;
using EvalPlatform.Web.Components.Layout;
using EvalPlatform.Web.Reviews;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Web;
using MudBlazor;

namespace EvalPlatform.Web.Components.Pages.Reviews;

/// <summary>
/// Reviewing one trace. Every change goes through <see cref="ReviewService"/> (which checks the
/// role again), confirms with a snackbar that offers undo, and tells the page
/// (<see cref="ReviewChanged"/>); changes by others arrive as a new <see cref="Revision"/>.
/// </summary>
public sealed partial class TraceReviewPanel
{
    private static readonly string[] ShortcutKeys = ["a", "r", "s", "n", "u", "j", "k", "?", "1", "2", "3", "4", "5", "6", "7", "8", "9", "Escape"];

    [Inject]
    private ReviewService Reviews { get; set; } = default!;

    [Inject]
    private ReviewSettingsService Settings { get; set; } = default!;

    [Inject]
    private IDialogService Dialogs { get; set; } = default!;

    [Inject]
    private ISnackbar Snackbar { get; set; } = default!;

    [Inject]
    private ILogger<TraceReviewPanel> Logger { get; set; } = default!;

    [CascadingParameter]
    public CurrentTeam Current { get; set; } = default!;

    [Parameter, EditorRequired]
    public Guid TraceId { get; set; }

    /// <summary>Bumped by the page when the trace changed elsewhere (live bus): the review is read again.</summary>
    [Parameter]
    public int Revision { get; set; }

    /// <summary>J: the next (older) trace.</summary>
    [Parameter]
    public EventCallback OnNext { get; set; }

    /// <summary>K: the previous (newer) trace.</summary>
    [Parameter]
    public EventCallback OnPrevious { get; set; }

    /// <summary>After each change made here, with the review as stored.</summary>
    [Parameter]
    public EventCallback<TraceReview> ReviewChanged { get; set; }

    private TraceReview? _review;
    private ReviewConfig? _config;
    private Guid _loadedId;
    private int _loadedRevision = -1;
    private string? _noteDraft;
    private string? _noteShown;
    private string? _error;
    private bool _busy;
    private IDialogReference? _help;
    private ShortcutRelay? _relay;
    private ElementReference _noteInput;
    private Snackbar? _toast;

    private bool CanReview => Current.Can(Permission.ReviewTraces);

    private bool NoteDirty => _review is not null && Normalize(_noteDraft) != _review.Note;

    private bool CanReset => _review is { } r && (r.Status != ReviewStatus.Pending || r.Reason is not null || r.Score is not null);

    protected override async Task OnParametersSetAsync()
    {
        if (TraceId == _loadedId && Revision == _loadedRevision)
        {
            return;
        }

        var sameTrace = TraceId == _loadedId;
        if (!sameTrace)
        {
            // A confirmation (and its Undo) belongs to the trace it confirms: moving on takes it away.
            Toast(null);
        }

        _loadedId = TraceId;
        _loadedRevision = Revision;
        try
        {
            _config = sameTrace && _config is not null ? _config : await Settings.GetAsync();
            Show(await Reviews.GetAsync(TraceId), keepDraft: sameTrace);
            _error = null;
        }
        catch (Exception e) when (UserErrors.IsExpected(e))
        {
            _error = UserErrors.Message(e);
        }
    }

    /// <summary>The shortcut keys, from <see cref="Shared.KeyboardShortcuts"/> (never while typing in a field).</summary>
    private async Task HandleKeyAsync(string key)
    {
        if (_relay is not null)
        {
            await _relay.SendAsync(key);
            return;
        }

        if (_help is not null)
        {
            // Escape closes the shortcuts even before MudBlazor's own key handling is attached; other keys wait.
            if (key == "Escape")
            {
                _help.Close();
            }

            return;
        }

        switch (key)
        {
            case "j":
                await OnNext.InvokeAsync();
                return;
            case "k":
                await OnPrevious.InvokeAsync();
                return;
            case "?":
                _ = RunAsync(ShowHelpAsync);
                return;
        }

        if (!CanReview || _review is null || _busy)
        {
            return;
        }

        switch (key)
        {
            case "a":
                await AcceptAsync();
                break;
            case "r":
                // Not awaited: the dialog's answer comes when it closes, and the 1–9 that picks it arrives as another key.
                _ = RunAsync(RejectAsync);
                break;
            case "s":
                await MarkForReviewAsync();
                break;
            case "n":
                await _noteInput.FocusAsync();
                break;
            case "u" when _review.CanUndo:
                await UndoAsync(TraceId);
                break;
            case [>= '1' and <= '5'] when _config?.Scale == ScoreScale.OneToFive:
                await SetScoreAsync(key[0] - '0');
                break;
        }
    }

    private Task AcceptAsync() => ApplyAsync(ReviewCommand.Accept());

    private Task MarkForReviewAsync() => ApplyAsync(ReviewCommand.MarkForReview());

    private Task ResetAsync() => ApplyAsync(ReviewCommand.Reset());

    private Task SetScoreAsync(double? score) => ApplyAsync(ReviewCommand.SetScore(score), score is null ? "Score cleared" : $"Scored {_config!.ScoreLabel(score)}");

    private Task SaveNoteAsync() => ApplyAsync(ReviewCommand.SetNote(_noteDraft), "Note saved", syncNote: true);

    private void OnNoteInput(ChangeEventArgs e) => _noteDraft = e.Value as string;

    private async Task OnNoteKeyDownAsync(KeyboardEventArgs e)
    {
        if (e is { Key: "Enter", CtrlKey: true } or { Key: "Enter", MetaKey: true })
        {
            await SaveNoteAsync();
        }
    }

    private async Task RejectAsync()
    {
        if (!CanReview || _config is null || _relay is not null || _busy)
        {
            return;
        }

        _relay = new ShortcutRelay();
        try
        {
            var parameters = new DialogParameters<RejectDialog> { { d => d.Reasons, _config.Reasons }, { d => d.Relay, _relay } };
            // Focus on the dialog itself, not its detail field, so 1–9 pick a reason at once.
            var options = new DialogOptions { MaxWidth = MaxWidth.Small, FullWidth = true, DefaultFocus = DefaultFocus.Element, CloseOnEscapeKey = true };
            var dialog = await Dialogs.ShowAsync<RejectDialog>("Reject this trace", parameters, options);
            var result = await dialog.Result;
            _relay = null;
            if (result is { Canceled: false, Data: RejectChoice choice })
            {
                await ApplyAsync(ReviewCommand.Reject(choice.Reason, choice.Detail));
            }
        }
        finally
        {
            _relay = null;
        }
    }

    private async Task ShowHelpAsync()
    {
        if (_help is not null)
        {
            return;
        }

        try
        {
            var parameters = new DialogParameters<ShortcutsDialog> { { d => d.CanReview, CanReview }, { d => d.Scale, _config?.Scale ?? ScoreScale.GoodBad } };
            _help = await Dialogs.ShowAsync<ShortcutsDialog>("Keyboard shortcuts", parameters, new DialogOptions { MaxWidth = MaxWidth.ExtraSmall, FullWidth = true, CloseOnEscapeKey = true });
            await _help.Result;
        }
        finally
        {
            _help = null;
        }
    }

    /// <summary>Undoes on <paramref name="traceId"/>: a snackbar's Undo may be pressed after moving on to the next trace.</summary>
    private async Task UndoAsync(Guid traceId)
    {
        if (traceId != TraceId)
        {
            if (await CallAsync(() => Reviews.UndoAsync(traceId)) is not null)
            {
                Toast(Snackbar.Add("Undone on the previous trace", Severity.Info));
            }

            return;
        }

        await ApplyAsync(ReviewCommand.Undo(), offerUndo: false);
    }

    private async Task ApplyAsync(ReviewCommand command, string? message = null, bool syncNote = false, bool offerUndo = true)
    {
        var before = _review?.Version;
        var traceId = TraceId;
        if (await CallAsync(() => Reviews.ReviewAsync(traceId, command)) is not { } review)
        {
            return;
        }

        Show(review, keepDraft: !syncNote);
        if (review.Version == before)
        {
            Toast(Snackbar.Add("Already so: nothing changed", Severity.Info, o => o.VisibleStateDuration = 2000));
            return;
        }

        message ??= ReviewText.Confirm(command.Action ?? ReviewAction.Edit, review, _config?.Scale);
        Toast(Snackbar.Add(message, Severity.Success, o =>
        {
            o.VisibleStateDuration = 3000;
            if (offerUndo)
            {
                // A snackbar with an action stays until clicked unless told otherwise; this one fades
                // (a little later, so Undo can be reached; hovering keeps it).
                o.RequireInteraction = false;
                o.VisibleStateDuration = 5000;
                o.Action = "Undo";
                o.ActionColor = Color.Inherit;
                o.OnClick = _ => InvokeAsync(() => UndoAsync(traceId));
            }
        }));
        await ReviewChanged.InvokeAsync(review);
    }

    /// <summary>
    /// One toast at a time from this panel: a new one replaces the last (three used to stack over the
    /// panel's header); null only takes the last away.
    /// </summary>
    private void Toast(Snackbar? toast)
    {
        if (_toast is not null && _toast != toast)
        {
            Snackbar.Remove(_toast);
        }

        _toast = toast;
    }

    /// <summary>One service call at a time; refusals become a warning snackbar (null), the panel re-renders either way.</summary>
    private async Task<TraceReview?> CallAsync(Func<Task<TraceReview>> call)
    {
        if (_busy)
        {
            return null;
        }

        _busy = true;
        try
        {
            return await call();
        }
        catch (InputValidationException e)
        {
            Snackbar.Add(string.Join(" ", e.Errors.Select(x => x.Message)), Severity.Warning);
        }
        catch (Exception e) when (UserErrors.IsExpected(e))
        {
            Snackbar.Add(UserErrors.Message(e), Severity.Warning);
        }
        finally
        {
            _busy = false;
            StateHasChanged();
        }

        return null;
    }

    private void Show(TraceReview review, bool keepDraft)
    {
        if (review.TraceId != TraceId)
        {
            return;
        }

        // Someone else's change must not wipe a note being written here.
        var writing = keepDraft && NoteDirty;
        _review = review;
        if (!writing)
        {
            _noteDraft = review.Note;
            _noteShown = review.Note;
        }
    }

    private async Task RunAsync(Func<Task> flow)
    {
        try
        {
            await flow();
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Logger.LogWarning(e, "A review shortcut failed on trace {TraceId}", TraceId);
        }
    }

    private static string? Normalize(string? note) => string.IsNullOrWhiteSpace(note) ? null : note.Trim();
}
