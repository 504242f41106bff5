using EvalPlatform.Core.Common;
using EvalPlatform.Core.Live;
using EvalPlatform.Core.Reviews;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Core.Traces;
using EvalPlatform.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace EvalPlatform.Tests.Integration.Reviews;

/// <summary>The review service on each database: every transition and its history row, undo, roles, tenancy, concurrency.</summary>
public abstract class ReviewServiceTests(EvalAppFactory app)
{
    private async Task<(TestTeam Team, Guid TraceId)> TraceInNewTeamAsync()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        return (team, await AddTraceAsync(team.Id));
    }

    private async Task<Guid> AddTraceAsync(Guid teamId, string input = "Where is my order?")
    {
        using var api = await ApiClient.ForTeamAsync(app, teamId, ApiKeyScopes.Ingest);
        return await api.PostTraceAsync(new { user_input = input, response = "It shipped yesterday." });
    }

    private async Task<T> AsAsync<T>(TestTeam team, Func<ReviewService, Task<T>> act) => await AsAsync(team.Id, team.OwnerId, TeamRole.Owner, act);

    private async Task<T> AsAsync<T>(Guid teamId, string userId, TeamRole role, Func<ReviewService, Task<T>> act)
    {
        await using var scope = app.Services.CreateAsyncScope();
        scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(teamId, userId, role);
        return await act(scope.ServiceProvider.GetRequiredService<ReviewService>());
    }

    private async Task<ReviewConfig> SettingsAsync(TestTeam team, Func<ReviewSettingsService, Task<ReviewConfig>> act)
    {
        await using var scope = app.Services.CreateAsyncScope();
        scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(team.Id, team.OwnerId, TeamRole.Owner);
        return await act(scope.ServiceProvider.GetRequiredService<ReviewSettingsService>());
    }

    [Fact]
    public async Task Accept_SetsAcceptedAndGood_AndAppendsAHistoryRow()
    {
        var (team, id) = await TraceInNewTeamAsync();

        var review = await AsAsync(team, r => r.ReviewAsync(id, ReviewCommand.Accept()));

        Assert.Equal(ReviewStatus.Accepted, review.Status);
        Assert.Equal(1.0, review.Score);
        Assert.Equal("good", review.ScoreLabel);
        Assert.Equal(team.OwnerId, review.ReviewedBy);
        Assert.Equal(team.OwnerEmail, review.ReviewedByName);
        Assert.NotNull(review.ReviewedAt);
        var row = Assert.Single(review.History);
        Assert.Equal((1, ReviewAction.Accept, ReviewStatus.Pending, ReviewStatus.Accepted), (row.Version, row.Action, row.FromStatus, row.ToStatus));
        Assert.Equal((null, 1.0), (row.FromScore, row.ToScore));
        Assert.Equal((team.OwnerId, team.OwnerEmail), (row.ActorId, row.ActorName));

        // What was stored, read back fresh.
        var again = await AsAsync(team, r => r.GetAsync(id));
        Assert.Equal(review.State, again.State);
        Assert.Single(again.History);
    }

    [Fact]
    public async Task Reject_KeepsReasonAndDetail_ScoresBad_AndRecordsFromAndTo()
    {
        var (team, id) = await TraceInNewTeamAsync();
        await AsAsync(team, r => r.ReviewAsync(id, ReviewCommand.Accept()));

        var review = await AsAsync(team, r => r.ReviewAsync(id, ReviewCommand.Reject("hallucination", "  Invents an order number.  ")));

        Assert.Equal((ReviewStatus.Rejected, "hallucination", "Hallucination", "Invents an order number.", 0.0, "bad"),
            (review.Status, review.Reason, review.ReasonLabel, review.Detail, review.Score, review.ScoreLabel));
        Assert.Equal([2, 1], review.History.Select(h => h.Version));
        var row = review.History[0];
        Assert.Equal((ReviewAction.Reject, ReviewStatus.Accepted, ReviewStatus.Rejected), (row.Action, row.FromStatus, row.ToStatus));
        Assert.Equal((null, "hallucination", 1.0, 0.0), (row.FromReason, row.ToReason, row.FromScore, row.ToScore));
        Assert.Equal("Invents an order number.", row.ToDetail);
    }

    [Fact]
    public async Task MarkForReview_ThenReset_ClearVerdictReasonAndScore_ButKeepTheNote()
    {
        var (team, id) = await TraceInNewTeamAsync();
        await AsAsync(team, r => r.ReviewAsync(id, ReviewCommand.Reject("off_topic") with { SetsNote = true, Note = "Asked about refunds." }));

        var marked = await AsAsync(team, r => r.ReviewAsync(id, ReviewCommand.MarkForReview()));
        Assert.Equal(new ReviewState(ReviewStatus.NeedsReview, null, null, null, "Asked about refunds."), marked.State);
        Assert.Equal(ReviewAction.NeedsReview, marked.History[0].Action);
        Assert.Equal((ReviewStatus.Rejected, "off_topic"), (marked.History[0].FromStatus, marked.History[0].FromReason));

        var reset = await AsAsync(team, r => r.ReviewAsync(id, ReviewCommand.Reset()));
        Assert.Equal(new ReviewState(ReviewStatus.Pending, null, null, null, "Asked about refunds."), reset.State);
        Assert.Equal([ReviewAction.Reset, ReviewAction.NeedsReview, ReviewAction.Reject], reset.History.Select(h => h.Action));
        Assert.Equal(3, reset.Version);
    }

    [Theory]
    [InlineData(null, "A rejection needs a reason")]
    [InlineData("made_up", "Unknown reason 'made_up'")]
    public async Task Reject_WithoutAKnownReason_NamesTheReasonField_AndChangesNothing(string? reason, string message)
    {
        var (team, id) = await TraceInNewTeamAsync();

        var error = await Assert.ThrowsAsync<InputValidationException>(() => AsAsync(team, r => r.ReviewAsync(id, new ReviewCommand { Action = ReviewAction.Reject, Reason = reason })));

        var field = Assert.Single(error.Errors);
        Assert.Equal("reason", field.Field);
        Assert.StartsWith(message, field.Message, StringComparison.Ordinal);
        Assert.Contains("incorrect_tool_call", field.Message, StringComparison.Ordinal);
        var review = await AsAsync(team, r => r.GetAsync(id));
        Assert.Equal((ReviewStatus.Pending, 0), (review.Status, review.History.Count));
    }

    [Fact]
    public async Task ReasonOrDetail_WithoutARejection_NameTheirFields()
    {
        var (team, id) = await TraceInNewTeamAsync();

        var error = await Assert.ThrowsAsync<InputValidationException>(
            () => AsAsync(team, r => r.ReviewAsync(id, ReviewCommand.Accept() with { Reason = "hallucination", Detail = "x" })));

        Assert.Equal(["detail", "reason"], error.Errors.Select(e => e.Field).Order());
    }

    [Fact]
    public async Task OneToFiveScale_TakesWholeNumbers1To5_AndVerdictsKeepTheScore()
    {
        var (team, id) = await TraceInNewTeamAsync();
        await SettingsAsync(team, s => s.SetScaleAsync(ScoreScale.OneToFive));

        foreach (var bad in new[] { 0, 6, 3.5 })
        {
            var error = await Assert.ThrowsAsync<InputValidationException>(() => AsAsync(team, r => r.ReviewAsync(id, ReviewCommand.SetScore(bad))));
            Assert.Equal("score", Assert.Single(error.Errors).Field);
        }

        var scored = await AsAsync(team, r => r.ReviewAsync(id, ReviewCommand.SetScore(4)));
        Assert.Equal((ReviewStatus.Pending, 4.0, "4", ReviewAction.Edit), (scored.Status, scored.Score, scored.ScoreLabel, scored.History[0].Action));
        var accepted = await AsAsync(team, r => r.ReviewAsync(id, ReviewCommand.Accept()));
        Assert.Equal((ReviewStatus.Accepted, 4.0), (accepted.Status, accepted.Score));
        var rejected = await AsAsync(team, r => r.ReviewAsync(id, ReviewCommand.Reject("formatting") with { SetsScore = true, Score = 2 }));
        Assert.Equal((ReviewStatus.Rejected, 2.0), (rejected.Status, rejected.Score));
    }

    [Fact]
    public async Task ZeroToOneScale_TakesFractions_AndRefusesOutside()
    {
        var (team, id) = await TraceInNewTeamAsync();
        await SettingsAsync(team, s => s.SetScaleAsync(ScoreScale.ZeroToOne));

        var error = await Assert.ThrowsAsync<InputValidationException>(() => AsAsync(team, r => r.ReviewAsync(id, ReviewCommand.SetScore(1.5))));
        Assert.Equal("score", Assert.Single(error.Errors).Field);
        var scored = await AsAsync(team, r => r.ReviewAsync(id, ReviewCommand.SetScore(0.75)));
        Assert.Equal((0.75, "0.75"), (scored.Score, scored.ScoreLabel));
        var cleared = await AsAsync(team, r => r.ReviewAsync(id, ReviewCommand.SetScore(null)));
        Assert.Null(cleared.Score);
        Assert.Equal((0.75, (double?)null), (cleared.History[0].FromScore, cleared.History[0].ToScore));
    }

    [Fact]
    public async Task GoodBadScale_RefusesOtherNumbers()
    {
        var (team, id) = await TraceInNewTeamAsync();

        var error = await Assert.ThrowsAsync<InputValidationException>(() => AsAsync(team, r => r.ReviewAsync(id, ReviewCommand.SetScore(0.5))));

        Assert.Equal("score", Assert.Single(error.Errors).Field);
    }

    [Fact]
    public async Task Note_IsTrimmed_BlankClearsIt_AndEachEditIsHistory()
    {
        var (team, id) = await TraceInNewTeamAsync();

        var noted = await AsAsync(team, r => r.ReviewAsync(id, ReviewCommand.SetNote("  <b>Check</b> the tool call.\n")));
        Assert.Equal("<b>Check</b> the tool call.", noted.Note);
        var cleared = await AsAsync(team, r => r.ReviewAsync(id, ReviewCommand.SetNote("   ")));
        Assert.Null(cleared.Note);
        Assert.Equal([ReviewAction.Edit, ReviewAction.Edit], cleared.History.Select(h => h.Action));
        Assert.Equal(("<b>Check</b> the tool call.", (string?)null), (cleared.History[0].FromNote, cleared.History[0].ToNote));
    }

    [Fact]
    public async Task ARepeatedAction_ChangesNothing_AndWritesNoHistory()
    {
        var (team, id) = await TraceInNewTeamAsync();
        await AsAsync(team, r => r.ReviewAsync(id, ReviewCommand.Accept()));

        var again = await AsAsync(team, r => r.ReviewAsync(id, ReviewCommand.Accept()));

        Assert.Equal(1, again.Version);
        Assert.Single(again.History);
    }

    [Fact]
    public async Task Undo_RestoresThePreviousState_IsRecorded_AndWalksBackThroughOwnChanges()
    {
        var (team, id) = await TraceInNewTeamAsync();
        await AsAsync(team, r => r.ReviewAsync(id, ReviewCommand.SetNote("first look")));
        await AsAsync(team, r => r.ReviewAsync(id, ReviewCommand.Accept()));
        var rejected = await AsAsync(team, r => r.ReviewAsync(id, ReviewCommand.Reject("incomplete", "Stops mid-sentence.")));
        Assert.True(rejected.CanUndo);

        var undone = await AsAsync(team, r => r.UndoAsync(id));

        Assert.Equal(new ReviewState(ReviewStatus.Accepted, null, null, 1.0, "first look"), undone.State);
        var row = undone.History[0];
        Assert.Equal((4, ReviewAction.Undo, 3), (row.Version, row.Action, row.UndoneVersion));
        Assert.Equal((ReviewStatus.Rejected, ReviewStatus.Accepted, "incomplete", (string?)null), (row.FromStatus, row.ToStatus, row.FromReason, row.ToReason));

        // Again: the accept goes, then the note; then nothing is left to undo.
        var second = await AsAsync(team, r => r.ReviewAsync(id, ReviewCommand.Undo()));
        Assert.Equal(new ReviewState(ReviewStatus.Pending, null, null, null, "first look"), second.State);
        var third = await AsAsync(team, r => r.UndoAsync(id));
        Assert.Equal(ReviewState.Pending, third.State);
        Assert.False(third.CanUndo);
        await Assert.ThrowsAsync<ConflictException>(() => AsAsync(team, r => r.UndoAsync(id)));
        Assert.Equal(6, third.Version);
    }

    [Fact]
    public async Task Undo_WhenTheLatestChangeIsSomeoneElses_IsRefused_AndChangesNothing()
    {
        var (team, id) = await TraceInNewTeamAsync();
        var (otherId, otherEmail) = await TestData.CreateMemberAsync(app.Services, team.Id, TeamRole.Reviewer);
        await AsAsync(team, r => r.ReviewAsync(id, ReviewCommand.Accept()));
        var theirs = await AsAsync(team.Id, otherId, TeamRole.Reviewer, r => r.ReviewAsync(id, ReviewCommand.Reject("unsafe_or_policy_violation")));
        Assert.True(theirs.CanUndo);
        Assert.False((await AsAsync(team, r => r.GetAsync(id))).CanUndo);

        var error = await Assert.ThrowsAsync<ConflictException>(() => AsAsync(team, r => r.UndoAsync(id)));

        Assert.Contains(otherEmail, error.Message, StringComparison.Ordinal);
        Assert.Equal(ReviewStatus.Rejected, (await AsAsync(team, r => r.GetAsync(id))).Status);
    }

    [Theory]
    [InlineData(TeamRole.Reviewer)]
    [InlineData(TeamRole.Admin)]
    [InlineData(TeamRole.Owner)]
    public async Task ReviewersAdminsAndOwners_Review(TeamRole role)
    {
        var (team, id) = await TraceInNewTeamAsync();
        var (userId, _) = await TestData.CreateMemberAsync(app.Services, team.Id, role);

        var review = await AsAsync(team.Id, userId, role, r => r.ReviewAsync(id, ReviewCommand.Accept()));

        Assert.Equal((ReviewStatus.Accepted, userId), (review.Status, review.ReviewedBy));
    }

    [Fact]
    public async Task Viewers_AreRefusedAtTheService_ButMayRead()
    {
        var (team, id) = await TraceInNewTeamAsync();
        var (viewerId, _) = await TestData.CreateMemberAsync(app.Services, team.Id, TeamRole.Viewer);
        await AsAsync(team, r => r.ReviewAsync(id, ReviewCommand.Accept()));

        await Assert.ThrowsAsync<PermissionDeniedException>(() => AsAsync(team.Id, viewerId, TeamRole.Viewer, r => r.ReviewAsync(id, ReviewCommand.Reject("hallucination"))));
        await Assert.ThrowsAsync<PermissionDeniedException>(() => AsAsync(team.Id, viewerId, TeamRole.Viewer, r => r.ReviewAsync(id, ReviewCommand.SetNote("x"))));
        await Assert.ThrowsAsync<PermissionDeniedException>(() => AsAsync(team.Id, viewerId, TeamRole.Viewer, r => r.UndoAsync(id)));

        var seen = await AsAsync(team.Id, viewerId, TeamRole.Viewer, r => r.GetAsync(id));
        Assert.Equal((ReviewStatus.Accepted, 1, false), (seen.Status, seen.History.Count, seen.CanUndo));
    }

    [Fact]
    public async Task AnotherTeamsTrace_IsNotFound_AndStaysUntouched()
    {
        var (teamA, _) = await TraceInNewTeamAsync();
        var (teamB, traceOfB) = await TraceInNewTeamAsync();

        await Assert.ThrowsAsync<NotFoundException>(() => AsAsync(teamA, r => r.ReviewAsync(traceOfB, ReviewCommand.Accept())));
        await Assert.ThrowsAsync<NotFoundException>(() => AsAsync(teamA, r => r.UndoAsync(traceOfB)));
        await Assert.ThrowsAsync<NotFoundException>(() => AsAsync(teamA, r => r.GetAsync(traceOfB)));

        var untouched = await AsAsync(teamB, r => r.GetAsync(traceOfB));
        Assert.Equal((ReviewStatus.Pending, 0), (untouched.Status, untouched.History.Count));
    }

    [Fact]
    public async Task ConcurrentChanges_ToOneTrace_AreAllKept_InOneUnbrokenChain()
    {
        var (team, id) = await TraceInNewTeamAsync();
        var reviewers = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            reviewers.Add((await TestData.CreateMemberAsync(app.Services, team.Id, TeamRole.Reviewer)).UserId);
        }

        await Task.WhenAll(reviewers.Select((userId, i) =>
            AsAsync(team.Id, userId, TeamRole.Reviewer, r => r.ReviewAsync(id, ReviewCommand.SetNote($"note {i}")))));

        var review = await AsAsync(team, r => r.GetAsync(id));
        Assert.Equal([4, 3, 2, 1], review.History.Select(h => h.Version));
        Assert.Equal(reviewers.Order(), review.History.Select(h => h.ActorId).Order());
        var oldestFirst = review.History.Reverse().ToList();
        Assert.Null(oldestFirst[0].FromNote);
        for (var i = 1; i < oldestFirst.Count; i++)
        {
            // Each change starts from the state the previous one left: nothing interleaved or lost.
            Assert.Equal(oldestFirst[i - 1].ToNote, oldestFirst[i].FromNote);
        }

        Assert.Equal(oldestFirst[^1].ToNote, review.Note);
    }

    [Fact]
    public async Task AChange_IsAnnouncedOnTheLiveBus_AfterItIsStored()
    {
        var (team, id) = await TraceInNewTeamAsync();
        var seen = new TaskCompletionSource<ReviewStatus>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var subscription = app.Services.GetRequiredService<ILiveBus>().Subscribe(team.Id, async e =>
        {
            if (e is TraceUpdated u && u.TraceId == id)
            {
                // Read what a page would read when the event arrives.
                seen.TrySetResult((await AsAsync(team, r => r.GetAsync(id))).Status);
            }
        });

        await AsAsync(team, r => r.ReviewAsync(id, ReviewCommand.Reject("formatting")));

        Assert.Equal(ReviewStatus.Rejected, await seen.Task.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task TheList_FiltersByReasonReviewerAndScore()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        var (reviewerId, reviewerEmail) = await TestData.CreateMemberAsync(app.Services, team.Id, TeamRole.Reviewer);
        var hallucinated = await AddTraceAsync(team.Id, "one");
        var offTopic = await AddTraceAsync(team.Id, "two");
        var accepted = await AddTraceAsync(team.Id, "three");
        var untouched = await AddTraceAsync(team.Id, "four");
        await AsAsync(team.Id, reviewerId, TeamRole.Reviewer, r => r.ReviewAsync(hallucinated, ReviewCommand.Reject("hallucination")));
        await AsAsync(team, r => r.ReviewAsync(offTopic, ReviewCommand.Reject("off_topic")));
        await AsAsync(team.Id, reviewerId, TeamRole.Reviewer, r => r.ReviewAsync(accepted, ReviewCommand.Accept()));

        await using var scope = app.Services.CreateAsyncScope();
        scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(team.Id, team.OwnerId, TeamRole.Owner);
        var queries = scope.ServiceProvider.GetRequiredService<TraceQueries>();
        async Task<Guid[]> Ids(TraceFilter f) => (await queries.ListAsync(f, null, 50)).Items.Select(i => i.Id).Order().ToArray();

        Assert.Equal([hallucinated], await Ids(new TraceFilter(Reason: "hallucination")));
        Assert.Equal(new[] { hallucinated, accepted }.Order(), await Ids(new TraceFilter(Reviewer: reviewerEmail.ToUpperInvariant())));
        Assert.Equal(new[] { hallucinated, accepted }.Order(), await Ids(new TraceFilter(Reviewer: reviewerId)));
        Assert.Empty(await Ids(new TraceFilter(Reviewer: "nobody@example.test")));
        Assert.Equal(new[] { hallucinated, offTopic }.Order(), await Ids(new TraceFilter(Score: ReviewScores.Bad)));
        Assert.Equal([accepted], await Ids(new TraceFilter(ScoreMin: 0.5)));
        Assert.Equal([untouched], await Ids(new TraceFilter(Status: ReviewStatus.Pending)));
        var row = (await queries.ListAsync(new TraceFilter(Reason: "off_topic"), null, 50)).Items.Single();
        Assert.Equal(("off_topic", 0.0, team.OwnerId), (row.ReviewReason, row.HumanScore, row.ReviewedBy));
    }

    [Fact]
    public async Task Settings_StartWithTheDefaultReasons_InOrder()
    {
        var team = await TestData.CreateTeamAsync(app.Services);

        var config = await SettingsAsync(team, s => s.GetAsync());

        Assert.Equal(ScoreScale.GoodBad, config.Scale);
        Assert.Equal(["hallucination", "incorrect_tool_call", "unsafe_or_policy_violation", "off_topic", "formatting", "incomplete"],
            config.Reasons.Select(r => r.Key));
        Assert.All(config.Reasons, r => Assert.False(string.IsNullOrWhiteSpace(r.Description)));
    }

    [Fact]
    public async Task Admins_AddRenameReorderAndRemoveReasons_KeysStayStable()
    {
        var team = await TestData.CreateTeamAsync(app.Services);

        var added = await SettingsAsync(team, s => s.AddReasonAsync("  Wrong language ", "Answered in another language."));
        var reason = added.Reasons[^1];
        Assert.Equal(("wrong_language", "Wrong language", 7), (reason.Key, reason.Label, added.Reasons.Count));
        var renamed = await SettingsAsync(team, s => s.UpdateReasonAsync(reason.Id, "Language mismatch", null));
        Assert.Equal(("wrong_language", "Language mismatch", (string?)null), (renamed.Reasons[^1].Key, renamed.Reasons[^1].Label, renamed.Reasons[^1].Description));
        var moved = await SettingsAsync(team, s => s.MoveReasonAsync(reason.Id, -1));
        Assert.Equal(["wrong_language", "incomplete"], moved.Reasons.Skip(5).Select(r => r.Key));
        var removed = await SettingsAsync(team, s => s.RemoveReasonAsync(moved.Reasons[0].Id));
        Assert.DoesNotContain(removed.Reasons, r => r.Key == "hallucination");

        var duplicate = await Assert.ThrowsAsync<DomainValidationException>(() => SettingsAsync(team, s => s.AddReasonAsync("language MISMATCH", null)));
        Assert.Equal("label", duplicate.Field);
        var empty = await Assert.ThrowsAsync<DomainValidationException>(() => SettingsAsync(team, s => s.AddReasonAsync("  ", null)));
        Assert.Equal("label", empty.Field);
    }

    [Fact]
    public async Task ARemovedReason_StaysOnItsTraces_AndANewReasonNeverTakesItsKey()
    {
        var (team, id) = await TraceInNewTeamAsync();
        await AsAsync(team, r => r.ReviewAsync(id, ReviewCommand.Reject("formatting")));
        var config = await SettingsAsync(team, s => s.GetAsync());
        await SettingsAsync(team, s => s.RemoveReasonAsync(config.FindReason("formatting")!.Id));

        var review = await AsAsync(team, r => r.GetAsync(id));
        Assert.Equal(("formatting", "formatting"), (review.Reason, review.ReasonLabel));
        var readded = await SettingsAsync(team, s => s.AddReasonAsync("Formatting", null));
        Assert.Equal("formatting_2", readded.Reasons[^1].Key);
    }

    [Fact]
    public async Task TheLastReason_CannotBeRemoved()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        var config = await SettingsAsync(team, s => s.GetAsync());
        foreach (var reason in config.Reasons.Skip(1))
        {
            await SettingsAsync(team, s => s.RemoveReasonAsync(reason.Id));
        }

        var error = await Assert.ThrowsAsync<DomainValidationException>(() => SettingsAsync(team, s => s.RemoveReasonAsync(config.Reasons[0].Id)));

        Assert.Equal("reasons", error.Field);
    }

    [Theory]
    [InlineData(TeamRole.Reviewer)]
    [InlineData(TeamRole.Viewer)]
    public async Task MembersBelowAdmin_ReadSettings_ButCannotChangeThem(TeamRole role)
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        await using var scope = app.Services.CreateAsyncScope();
        scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(team.Id, "someone", role);
        var settings = scope.ServiceProvider.GetRequiredService<ReviewSettingsService>();

        Assert.Equal(6, (await settings.GetAsync()).Reasons.Count);
        await Assert.ThrowsAsync<PermissionDeniedException>(() => settings.SetScaleAsync(ScoreScale.OneToFive));
        await Assert.ThrowsAsync<PermissionDeniedException>(() => settings.AddReasonAsync("x", null));
    }
}

public sealed class ReviewServicePostgresTests(PostgresAppFactory app) : ReviewServiceTests(app), IClassFixture<PostgresAppFactory>;

public sealed class ReviewServiceSqliteTests(SqliteAppFactory app) : ReviewServiceTests(app), IClassFixture<SqliteAppFactory>;
