using System.Net.Http.Json;
using System.Text.Json;
using EvalPlatform.Core.Common;
using EvalPlatform.Core.Queues;
using EvalPlatform.Core.Reviews;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Core.Traces;
using EvalPlatform.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace EvalPlatform.Tests.Integration.Queues;

/// <summary>
/// Review queues on each database: definitions and who may change them, membership by filter and by
/// sample, claims and their expiry, two reviewers racing, blind multi-review, agreement, settling, progress.
/// </summary>
public abstract class QueueServiceTests(EvalAppFactory app)
{
    private sealed record Member(string Id, string Email, TeamRole Role);

    private sealed record Team(TestTeam Info, Member Owner, Member Admin, Member A, Member B, Member C, Member Viewer);

    private async Task<Team> NewTeamAsync()
    {
        var info = await TestData.CreateTeamAsync(app.Services);
        async Task<Member> Add(TeamRole role)
        {
            var (id, email) = await TestData.CreateMemberAsync(app.Services, info.Id, role);
            return new Member(id, email, role);
        }

        return new Team(info, new Member(info.OwnerId, info.OwnerEmail, TeamRole.Owner), await Add(TeamRole.Admin), await Add(TeamRole.Reviewer),
            await Add(TeamRole.Reviewer), await Add(TeamRole.Reviewer), await Add(TeamRole.Viewer));
    }

    /// <summary>Runs <paramref name="act"/> as <paramref name="who"/> in a scope of its own (its own contexts), on <paramref name="clock"/> when given.</summary>
    private async Task<T> AsAsync<T>(Team team, Member who, Func<QueueService, Task<T>> act, TimeProvider? clock = null)
    {
        await using var scope = app.Services.CreateAsyncScope();
        scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(team.Info.Id, who.Id, who.Role);
        var service = clock is null
            ? scope.ServiceProvider.GetRequiredService<QueueService>()
            : ActivatorUtilities.CreateInstance<QueueService>(scope.ServiceProvider, clock);
        return await act(service);
    }

    private Task<bool> AsAsync(Team team, Member who, Func<QueueService, Task> act, TimeProvider? clock = null) =>
        AsAsync<bool>(team, who, async s => { await act(s); return true; }, clock);

    private async Task<T> ReviewsAsync<T>(Team team, Member who, Func<ReviewService, Task<T>> act)
    {
        await using var scope = app.Services.CreateAsyncScope();
        scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(team.Info.Id, who.Id, who.Role);
        return await act(scope.ServiceProvider.GetRequiredService<ReviewService>());
    }

    /// <summary>Sends traces in one batch; their ids in the order sent (one batch shares a creation time, so this is not list order: see <see cref="OldestFirstAsync"/>).</summary>
    private async Task<List<Guid>> SendAsync(Team team, params object[] traces)
    {
        using var api = await ApiClient.ForTeamAsync(app, team.Info.Id, ApiKeyScopes.Ingest);
        var response = await api.PostJsonAsync("/api/v1/traces/batch", new { traces });
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        return body.GetProperty("items").EnumerateArray().OrderBy(i => i.GetProperty("index").GetInt32()).Select(i => i.GetProperty("id").GetGuid()).ToList();
    }

    /// <summary>What the trace list shows for <paramref name="filter"/>, oldest first.</summary>
    private async Task<List<Guid>> ListedOldestFirstAsync(Team team, TraceFilter filter)
    {
        await using var scope = app.Services.CreateAsyncScope();
        scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(team.Info.Id, team.Owner.Id, TeamRole.Owner);
        var page = await scope.ServiceProvider.GetRequiredService<TraceQueries>().ListAsync(filter, null, TraceQueries.MaxPageSize);
        Assert.Null(page.NextCursor);
        return page.Items.Select(i => i.Id).Reverse().ToList();
    }

    /// <summary><paramref name="ids"/> in the list's order, oldest first.</summary>
    private async Task<List<Guid>> OldestFirstAsync(Team team, IEnumerable<Guid> ids)
    {
        var wanted = ids.ToHashSet();
        return (await ListedOldestFirstAsync(team, new TraceFilter())).Where(wanted.Contains).ToList();
    }

    private Task<List<Guid>> SendManyAsync(Team team, int count, string prefix = "question") =>
        SendAsync(team, Enumerable.Range(0, count).Select(i => (object)new { user_input = $"{prefix} {i}", response = "answer" }).ToArray());

    private static QueueDefinition Everything(string name = "All traces", int reviews = 1, IReadOnlyList<string>? assignees = null) =>
        new(name, new TraceFilter(), RequiredReviews: reviews, AssigneeIds: assignees);

    /// <summary>Walks the queue as one reviewer, accepting everything: the traces in the order handed out.</summary>
    private async Task<List<Guid>> WalkAsync(Team team, Member who, Guid queueId, TimeProvider? clock = null)
    {
        var seen = new List<Guid>();
        while (await AsAsync(team, who, q => q.NextAsync(queueId), clock) is { } work)
        {
            seen.Add(work.TraceId);
            await AsAsync(team, who, q => q.CompleteAsync(work.ItemId, QueueVerdictInput.Accept()), clock);
            Assert.True(seen.Count < 500, "The walk does not end.");
        }

        return seen;
    }

    [Fact]
    public async Task Queues_AreManagedByAdminsAndOwners_OthersAreRefused_ButEveryoneSeesThem()
    {
        var team = await NewTeamAsync();

        var created = await AsAsync(team, team.Admin, q => q.CreateAsync(Everything("Production") with { Instructions = "  Check **facts**.  " }));
        Assert.Equal(("Production", "Check **facts**.", 1), (created.Name, created.Instructions, created.RequiredReviews));
        foreach (var who in new[] { team.A, team.Viewer })
        {
            await Assert.ThrowsAsync<PermissionDeniedException>(() => AsAsync(team, who, q => q.CreateAsync(Everything("Mine"))));
            await Assert.ThrowsAsync<PermissionDeniedException>(() => AsAsync(team, who, q => q.UpdateAsync(created.Id, Everything("Renamed"))));
            await Assert.ThrowsAsync<PermissionDeniedException>(() => AsAsync(team, who, q => q.DeleteAsync(created.Id)));
            var seen = await AsAsync(team, who, q => q.ListAsync());
            Assert.Equal("Production", Assert.Single(seen).Queue.Name);
        }

        var updated = await AsAsync(team, team.Owner, q => q.UpdateAsync(created.Id,
            new QueueDefinition("Production, gpt-4o", new TraceFilter(Model: "gpt-4o"), AssigneeIds: [team.A.Id, team.B.Id])));
        Assert.Equal("gpt-4o", updated.Filter.Model);
        Assert.Equal(new[] { team.A.Email, team.B.Email }.Order(StringComparer.OrdinalIgnoreCase), updated.Assignees.Select(a => a.Name));
        Assert.Equal("gpt-4o", (await AsAsync(team, team.Viewer, q => q.GetAsync(created.Id))).Filter.Model);

        await AsAsync(team, team.Admin, q => q.DeleteAsync(created.Id));
        Assert.Empty(await AsAsync(team, team.Owner, q => q.ListAsync()));
        await Assert.ThrowsAsync<NotFoundException>(() => AsAsync(team, team.Owner, q => q.GetAsync(created.Id)));
    }

    [Fact]
    public async Task Definitions_AreValidated_EachProblemNamingItsField()
    {
        var team = await NewTeamAsync();
        await AsAsync(team, team.Admin, q => q.CreateAsync(Everything("Production")));

        async Task<string> FieldOf(QueueDefinition d) =>
            (await Assert.ThrowsAsync<DomainValidationException>(() => AsAsync(team, team.Admin, q => q.CreateAsync(d)))).Field;

        Assert.Equal("name", await FieldOf(Everything("  production ")));
        Assert.Equal("name", await FieldOf(Everything("  ")));
        Assert.Equal("sample_percent", await FieldOf(Everything("Sample") with { SamplePercent = 0 }));
        Assert.Equal("sample_percent", await FieldOf(Everything("Sample") with { SamplePercent = 101 }));
        Assert.Equal("required_reviews", await FieldOf(Everything("Six", reviews: 6)));
        Assert.Equal("required_reviews", await FieldOf(Everything("Three of two", reviews: 3, assignees: [team.A.Id, team.B.Id])));
        Assert.Equal("assignees", await FieldOf(Everything("Viewer assigned", assignees: [team.Viewer.Id])));
        Assert.Equal("assignees", await FieldOf(Everything("Stranger assigned", assignees: ["not-a-member"])));
        Assert.Equal("instructions", await FieldOf(Everything("Long") with { Instructions = new string('x', QueueService.MaxInstructionsLength + 1) }));
    }

    [Fact]
    public async Task RequiredReviews_CannotChange_OnceReviewsWereGiven()
    {
        var team = await NewTeamAsync();
        await SendManyAsync(team, 2);
        var queue = await AsAsync(team, team.Admin, q => q.CreateAsync(Everything(reviews: 2)));
        var work = await AsAsync(team, team.A, q => q.NextAsync(queue.Id));
        await AsAsync(team, team.A, q => q.CompleteAsync(work!.ItemId, QueueVerdictInput.Accept()));

        var error = await Assert.ThrowsAsync<DomainValidationException>(() => AsAsync(team, team.Admin, q => q.UpdateAsync(queue.Id, Everything(reviews: 1))));

        Assert.Equal("required_reviews", error.Field);
        var renamed = await AsAsync(team, team.Admin, q => q.UpdateAsync(queue.Id, Everything("Renamed", reviews: 2)));
        Assert.Equal("Renamed", renamed.Name);
    }

    [Fact]
    public async Task FilterQueue_HandsOutExactlyWhatTheTraceListShows_OldestFirst_AndAppliesEachVerdictThroughReviews()
    {
        var team = await NewTeamAsync();
        var ids = await SendAsync(team,
            new { user_input = "p1", model = "gpt-4o", environment = "production" },
            new { user_input = "s1", model = "gpt-4o", environment = "staging" },
            new { user_input = "p2", model = "claude-sonnet-4", environment = "production" },
            new { user_input = "p3", model = "gpt-4o", environment = "production" },
            new { user_input = "p4", model = "gpt-4o", environment = "production" });
        // Reviewed in the trace view already: "not yet reviewed" leaves it out.
        await ReviewsAsync(team, team.Owner, r => r.ReviewAsync(ids[3], ReviewCommand.Accept()));
        var filter = new TraceFilter(Status: ReviewStatus.Pending, Model: "gpt-4o", Environment: "production");
        var queue = await AsAsync(team, team.Admin, q => q.CreateAsync(new QueueDefinition("Production gpt-4o, not reviewed", filter)));
        Assert.Equal(new QueueCounts(0, 2, 0), (await AsAsync(team, team.A, q => q.GetProgressAsync(queue.Id))).Counts);

        var listed = await ListedOldestFirstAsync(team, filter);
        Assert.Equal(new[] { ids[0], ids[4] }.Order(), listed.Order());

        var walked = await WalkAsync(team, team.A, queue.Id);

        Assert.Equal(listed, walked);
        var review = await ReviewsAsync(team, team.Owner, r => r.GetAsync(ids[0]));
        Assert.Equal(ReviewStatus.Accepted, review.Status);
        Assert.Equal((team.A.Id, ReviewAction.Accept), (Assert.Single(review.History).ActorId, review.History[0].Action));
        var progress = await AsAsync(team, team.A, q => q.GetProgressAsync(queue.Id));
        Assert.Equal(new QueueCounts(2, 0, 0), progress.Counts);

        // A trace arriving later that matches joins the queue; one that does not, does not.
        var later = await SendAsync(team, new { user_input = "p5", model = "gpt-4o", environment = "production" }, new { user_input = "s2", model = "gpt-4o", environment = "staging" });
        Assert.Equal([later[0]], await WalkAsync(team, team.B, queue.Id));
    }

    [Fact]
    public async Task SampleQueue_TakesItsDeterministicShare_OfTracesArrivingAfterIt()
    {
        var team = await NewTeamAsync();
        var before = await SendManyAsync(team, 3, "before");
        var clock = new FakeTimeProvider(TimeProvider.System.GetUtcNow());
        var queue = await AsAsync(team, team.Admin, q => q.CreateAsync(Everything("Half of new") with { SamplePercent = 50 }), clock);
        var after = await SendManyAsync(team, 40, "after");
        var expected = await OldestFirstAsync(team, after.Where(id => QueueSampling.InSample(queue.Id, id, 50)));
        Assert.InRange(expected.Count, 8, 32);

        var counts = (await AsAsync(team, team.A, q => q.GetProgressAsync(queue.Id), clock)).Counts;
        Assert.Equal(new QueueCounts(0, expected.Count, 0), counts);
        var walked = await WalkAsync(team, team.A, queue.Id, clock);

        Assert.Equal(expected, walked);
        Assert.DoesNotContain(walked, before.Contains);
    }

    [Fact]
    public async Task AClaim_KeepsATraceFromOtherReviewers_UntilItLapsesWithoutActivity()
    {
        var team = await NewTeamAsync();
        var ids = await SendManyAsync(team, 1);
        var clock = new FakeTimeProvider(TimeProvider.System.GetUtcNow());
        var queue = await AsAsync(team, team.Admin, q => q.CreateAsync(Everything()), clock);

        var a = await AsAsync(team, team.A, q => q.NextAsync(queue.Id), clock);
        Assert.Equal(ids[0], a!.TraceId);
        Assert.Equal(clock.GetUtcNow() + TimeSpan.FromMinutes(5), a.ClaimExpiresAt);
        Assert.Null(await AsAsync(team, team.B, q => q.NextAsync(queue.Id), clock));
        // A reload resumes the same trace.
        Assert.Equal(a.ItemId, (await AsAsync(team, team.A, q => q.NextAsync(queue.Id), clock))!.ItemId);

        clock.Advance(TimeSpan.FromMinutes(4));
        Assert.NotNull(await AsAsync(team, team.A, q => q.KeepAliveAsync(a.ItemId), clock));
        clock.Advance(TimeSpan.FromMinutes(4));
        Assert.Null(await AsAsync(team, team.B, q => q.NextAsync(queue.Id), clock));
        await Assert.ThrowsAsync<ConflictException>(() => AsAsync(team, team.B, q => q.CompleteAsync(a.ItemId, QueueVerdictInput.Accept()), clock));

        clock.Advance(TimeSpan.FromMinutes(1) + TimeSpan.FromSeconds(1));
        var b = await AsAsync(team, team.B, q => q.NextAsync(queue.Id), clock);
        Assert.Equal(a.ItemId, b!.ItemId);
        Assert.Null(await AsAsync(team, team.A, q => q.KeepAliveAsync(a.ItemId), clock));
        var late = await Assert.ThrowsAsync<ConflictException>(() => AsAsync(team, team.A, q => q.CompleteAsync(a.ItemId, QueueVerdictInput.Accept()), clock));
        Assert.Contains("Another reviewer", late.Message, StringComparison.Ordinal);

        var done = await AsAsync(team, team.B, q => q.CompleteAsync(b.ItemId, QueueVerdictInput.Reject("hallucination")), clock);
        Assert.Equal((QueueItemState.Done, QueueOutcome.OneReview), (done.State, done.Outcome));
        Assert.Equal(ReviewStatus.Rejected, (await ReviewsAsync(team, team.Owner, r => r.GetAsync(ids[0]))).Status);
    }

    [Fact]
    public async Task ReleasedOrSkipped_TheNextTraceComes_AndTheSkippedOneIsFreeForOthers()
    {
        var team = await NewTeamAsync();
        var ids = await OldestFirstAsync(team, await SendManyAsync(team, 2));
        var queue = await AsAsync(team, team.Admin, q => q.CreateAsync(Everything()));

        var first = await AsAsync(team, team.A, q => q.NextAsync(queue.Id));
        await AsAsync(team, team.A, q => q.ReleaseAsync(first!.ItemId));
        var second = await AsAsync(team, team.A, q => q.NextAsync(queue.Id, [first!.ItemId]));
        var forB = await AsAsync(team, team.B, q => q.NextAsync(queue.Id));

        Assert.Equal((ids[0], ids[1], ids[0]), (first!.TraceId, second!.TraceId, forB!.TraceId));
    }

    [Fact]
    public async Task TwoReviewersAtOnce_NeverGetTheSameTrace()
    {
        var team = await NewTeamAsync();
        var ids = await SendManyAsync(team, 24);
        var queue = await AsAsync(team, team.Admin, q => q.CreateAsync(Everything()));
        var handedOut = new List<Guid>();

        for (var round = 0; round < 30; round++)
        {
            // Both ask at the same moment, each in its own scope and connection: they race for the same oldest trace.
            var works = await Task.WhenAll(
                AsAsync(team, team.A, q => q.NextAsync(queue.Id)),
                AsAsync(team, team.B, q => q.NextAsync(queue.Id)));
            var given = works.OfType<QueueWork>().ToList();
            if (given.Count == 0)
            {
                break;
            }

            Assert.Equal(given.Count, given.Select(w => w.TraceId).Distinct().Count());
            handedOut.AddRange(given.Select(w => w.TraceId));
            await Task.WhenAll(works.Select((w, i) => w is null
                ? Task.CompletedTask
                : AsAsync(team, i == 0 ? team.A : team.B, q => q.CompleteAsync(w.ItemId, QueueVerdictInput.Accept()))));
        }

        Assert.Equal(ids.Order(), handedOut.Order());
    }

    [Fact]
    public async Task ManyReviewersRacingForOneTrace_ExactlyOneGetsIt_EveryTime()
    {
        var team = await NewTeamAsync();
        var queue = await AsAsync(team, team.Admin, q => q.CreateAsync(Everything()));
        var reviewers = new[] { team.A, team.B, team.C, team.Admin };

        for (var round = 0; round < 12; round++)
        {
            var trace = (await SendManyAsync(team, 1, $"round {round}"))[0];
            var works = await Task.WhenAll(reviewers.Select(r => AsAsync(team, r, q => q.NextAsync(queue.Id))));

            var winner = Assert.Single(works.OfType<QueueWork>());
            Assert.Equal(trace, winner.TraceId);
            var who = reviewers[Array.IndexOf(works, winner)];
            await AsAsync(team, who, q => q.CompleteAsync(winner.ItemId, QueueVerdictInput.Accept()));
        }
    }

    [Fact]
    public async Task MultiReview_IsBlind_UntilOnesOwnVerdict_AndAnAgreementIsApplied()
    {
        var team = await NewTeamAsync();
        var ids = await SendManyAsync(team, 1);
        var queue = await AsAsync(team, team.Admin, q => q.CreateAsync(Everything(reviews: 2)));

        var a = await AsAsync(team, team.A, q => q.NextAsync(queue.Id));
        // Two reviewers never hold the same trace at once, even when it needs both of them.
        Assert.Null(await AsAsync(team, team.B, q => q.NextAsync(queue.Id)));
        var afterA = await AsAsync(team, team.A, q => q.CompleteAsync(a!.ItemId, QueueVerdictInput.Accept(note: "Correct and polite.")));
        Assert.Equal(QueueItemState.Open, afterA.State);
        Assert.Equal(team.A.Id, Assert.Single(afterA.Verdicts).ReviewerId);
        // Not applied yet: the trace gives nothing away either.
        Assert.Equal(ReviewStatus.Pending, (await ReviewsAsync(team, team.Owner, r => r.GetAsync(ids[0]))).Status);
        Assert.Null(await AsAsync(team, team.A, q => q.NextAsync(queue.Id)));

        var b = await AsAsync(team, team.B, q => q.NextAsync(queue.Id));
        Assert.Equal((a!.ItemId, 1), (b!.ItemId, b.VerdictsGiven));
        foreach (var blind in new[] { team.B, team.C, team.Admin, team.Viewer })
        {
            await Assert.ThrowsAsync<PermissionDeniedException>(() => AsAsync(team, blind, q => q.GetVerdictsAsync(a.ItemId)));
        }

        var progress = await AsAsync(team, team.Owner, q => q.GetProgressAsync(queue.Id));
        Assert.Equal((0, 1), (progress.Reviewers.Single(r => r.UserId == team.A.Id).Remaining, progress.Reviewers.Single(r => r.UserId == team.B.Id).Remaining));

        var afterB = await AsAsync(team, team.B, q => q.CompleteAsync(b.ItemId, QueueVerdictInput.Accept(note: "Fine.")));

        Assert.Equal((QueueItemState.Done, QueueOutcome.Agreed, 2), (afterB.State, afterB.Outcome, afterB.Verdicts.Count));
        Assert.Equal(2, (await AsAsync(team, team.Viewer, q => q.GetVerdictsAsync(a.ItemId))).Count);
        var review = await ReviewsAsync(team, team.Owner, r => r.GetAsync(ids[0]));
        Assert.Equal(ReviewStatus.Accepted, review.Status);
        Assert.Equal($"{team.A.Email}: Correct and polite.\n{team.B.Email}: Fine.", review.Note);
        Assert.Single(review.History);
        var agreement = (await AsAsync(team, team.Owner, q => q.GetProgressAsync(queue.Id))).Agreement!;
        Assert.Equal((1, 1.0), (agreement.Items, agreement.PercentAgreement));
    }

    [Fact]
    public async Task Disagreements_AreListedForAnAdmin_WhoSettlesThroughReviews_Once()
    {
        var team = await NewTeamAsync();
        var ids = await SendManyAsync(team, 2);
        var queue = await AsAsync(team, team.Admin, q => q.CreateAsync(Everything(reviews: 2)));
        var verdicts = new Dictionary<Guid, (QueueVerdictInput A, QueueVerdictInput B)>
        {
            [ids[0]] = (QueueVerdictInput.Accept(), QueueVerdictInput.Reject("hallucination", "Invents a refund.")),
            [ids[1]] = (QueueVerdictInput.Reject("off_topic"), QueueVerdictInput.Reject("off_topic")),
        };
        foreach (var (who, pick) in new (Member, Func<(QueueVerdictInput A, QueueVerdictInput B), QueueVerdictInput>)[] { (team.A, v => v.A), (team.B, v => v.B) })
        {
            while (await AsAsync(team, who, q => q.NextAsync(queue.Id)) is { } work)
            {
                await AsAsync(team, who, q => q.CompleteAsync(work.ItemId, pick(verdicts[work.TraceId])));
            }
        }

        var listed = Assert.Single(await AsAsync(team, team.Viewer, q => q.ListDisagreementsAsync(queue.Id)));
        Assert.Equal(ids[0], listed.TraceId);
        Assert.Equal(["accept", "reject:hallucination"], listed.Verdicts.Select(v => v.Category).Order());
        Assert.Equal(ReviewStatus.Pending, (await ReviewsAsync(team, team.Owner, r => r.GetAsync(ids[0]))).Status);
        Assert.Equal(ReviewStatus.Rejected, (await ReviewsAsync(team, team.Owner, r => r.GetAsync(ids[1]))).Status);
        var progress = await AsAsync(team, team.Owner, q => q.GetProgressAsync(queue.Id));
        Assert.Equal(new QueueCounts(1, 0, 1), progress.Counts);
        Assert.Equal((2, 0.5), (progress.Agreement!.Items, progress.Agreement.PercentAgreement));
        // First reviewer against second, item by item: one agreement in two, κ = (0.5 − 0.25) / (1 − 0.25).
        Assert.Equal(1.0 / 3, progress.Agreement.CohensKappa!.Value, 10);
        Assert.Null(progress.Agreement.FleissKappa);

        Assert.Equal(0, await QueueCompletedEventsAsync(team));
        await Assert.ThrowsAsync<PermissionDeniedException>(() => AsAsync(team, team.A, q => q.SettleAsync(listed.ItemId, QueueVerdictInput.Accept())));
        var settled = await AsAsync(team, team.Admin, q => q.SettleAsync(listed.ItemId, QueueVerdictInput.Reject("hallucination", "Agreed with B.")));

        Assert.Equal((QueueItemState.Done, QueueOutcome.Settled), (settled.State, settled.Outcome));
        var review = await ReviewsAsync(team, team.Owner, r => r.GetAsync(ids[0]));
        Assert.Equal((ReviewStatus.Rejected, "hallucination", "Agreed with B."), (review.Status, review.Reason, review.Detail));
        Assert.Equal(team.Admin.Id, Assert.Single(review.History).ActorId);
        await Assert.ThrowsAsync<ConflictException>(() => AsAsync(team, team.Owner, q => q.SettleAsync(listed.ItemId, QueueVerdictInput.Accept())));
        Assert.Empty(await AsAsync(team, team.Admin, q => q.ListDisagreementsAsync(queue.Id)));
        Assert.Equal(new QueueCounts(2, 0, 0), (await AsAsync(team, team.Owner, q => q.GetProgressAsync(queue.Id))).Counts);
        // Settling the last disagreement completes the queue: announced once (the refused second settle adds nothing).
        Assert.Equal(1, await QueueCompletedEventsAsync(team));
    }

    [Fact]
    public async Task CompletingTheLastItem_AnnouncesQueueCompleted_Once()
    {
        var team = await NewTeamAsync();
        await SendManyAsync(team, 2);
        var queue = await AsAsync(team, team.Admin, q => q.CreateAsync(Everything("Two traces")));
        var first = await AsAsync(team, team.A, q => q.NextAsync(queue.Id));
        await AsAsync(team, team.A, q => q.CompleteAsync(first!.ItemId, QueueVerdictInput.Accept()));
        Assert.Equal(0, await QueueCompletedEventsAsync(team));

        var last = await AsAsync(team, team.A, q => q.NextAsync(queue.Id));
        await AsAsync(team, team.A, q => q.CompleteAsync(last!.ItemId, QueueVerdictInput.Accept()));

        Assert.Equal(1, await QueueCompletedEventsAsync(team));
        Assert.Null(await AsAsync(team, team.A, q => q.NextAsync(queue.Id)));
        Assert.Equal(1, await QueueCompletedEventsAsync(team));
    }

    /// <summary>Distinct <c>queue.completed</c> events of the team's outbox (one in-app row per member per event).</summary>
    private async Task<int> QueueCompletedEventsAsync(Team team)
    {
        await using var scope = app.Services.CreateAsyncScope();
        await using var db = await scope.ServiceProvider.GetRequiredService<Core.Data.IEvalDbContextFactory>().CreateAsync();
        return await db.InAppNotifications.IgnoreQueryFilters()
            .Where(n => n.TeamId == team.Info.Id && n.EventType == Core.Notifications.NotificationEventTypes.QueueCompleted)
            .Select(n => n.EventId).Distinct().CountAsync();
    }

    [Fact]
    public async Task ThreeReviewers_GetFleissKappa_AndAnItemNeverTakesMoreThanItsReviews()
    {
        var team = await NewTeamAsync();
        var ids = await SendManyAsync(team, 3);
        var queue = await AsAsync(team, team.Admin, q => q.CreateAsync(Everything(reviews: 3)));
        var reviewers = new[] { team.A, team.B, team.C };
        var given = new Dictionary<Guid, List<string>>();
        for (var r = 0; r < reviewers.Length; r++)
        {
            while (await AsAsync(team, reviewers[r], q => q.NextAsync(queue.Id)) is { } work)
            {
                // All accept, but the third reviewer rejects the third trace.
                var verdict = r == 2 && work.TraceId == ids[2] ? QueueVerdictInput.Reject("formatting") : QueueVerdictInput.Accept();
                await AsAsync(team, reviewers[r], q => q.CompleteAsync(work.ItemId, verdict));
                given.TryAdd(work.TraceId, []);
                given[work.TraceId].Add(verdict.Category);
            }
        }

        Assert.Null(await AsAsync(team, team.Admin, q => q.NextAsync(queue.Id)));
        var progress = await AsAsync(team, team.Owner, q => q.GetProgressAsync(queue.Id));
        Assert.Equal(3, given[ids[2]].Count);
        // Items (3,0), (3,0), (2,1): P̄ = 7/9, P̄e = (8/9)² + (1/9)² = 65/81, κ = (7/9 − 65/81) / (1 − 65/81) = −0.125.
        Assert.Equal(-0.125, progress.Agreement!.FleissKappa!.Value, 10);
        Assert.Null(progress.Agreement.CohensKappa);
        Assert.Equal(9, progress.Reviewers.Sum(r => r.DoneTotal));
        Assert.Equal(new QueueCounts(2, 0, 1), progress.Counts);
        Assert.Equal(2.0 / 3, progress.Agreement.PercentAgreement!.Value, 10);
    }

    [Fact]
    public async Task Progress_CountsDoneToday_DoneInTotal_AndRemaining_PerReviewer()
    {
        var team = await NewTeamAsync();
        await SendManyAsync(team, 6);
        // 23:50 on the server's day (the fake clock's zone is UTC): the day turns during the test.
        var clock = new FakeTimeProvider(new DateTimeOffset(2030, 3, 14, 23, 50, 0, TimeSpan.Zero));
        var queue = await AsAsync(team, team.Admin, q => q.CreateAsync(Everything()), clock);

        async Task ReviewOneAsync(Member who)
        {
            var work = await AsAsync(team, who, q => q.NextAsync(queue.Id), clock);
            await AsAsync(team, who, q => q.CompleteAsync(work!.ItemId, QueueVerdictInput.Accept()), clock);
        }

        await ReviewOneAsync(team.A);
        await ReviewOneAsync(team.A);
        clock.Advance(TimeSpan.FromMinutes(20));
        await ReviewOneAsync(team.A);
        await ReviewOneAsync(team.B);

        var progress = await AsAsync(team, team.Viewer, q => q.GetProgressAsync(queue.Id), clock);
        Assert.Equal(new QueueCounts(4, 2, 0), progress.Counts);
        var byId = progress.Reviewers.ToDictionary(r => r.UserId);
        Assert.Equal(new ReviewerProgress(team.A.Id, team.A.Email, 1, 3, 2), byId[team.A.Id]);
        Assert.Equal(new ReviewerProgress(team.B.Id, team.B.Email, 1, 1, 2), byId[team.B.Id]);
        Assert.Equal(new ReviewerProgress(team.C.Id, team.C.Email, 0, 0, 2), byId[team.C.Id]);
        Assert.DoesNotContain(team.Viewer.Id, byId.Keys);
        Assert.Equal(team.A.Id, progress.Reviewers[0].UserId);
        var overview = Assert.Single(await AsAsync(team, team.B, q => q.ListAsync(), clock));
        Assert.Equal((2, true), (overview.MyRemaining, overview.CanReview));
    }

    [Fact]
    public async Task Viewers_SeeQueuesAndProgress_ButAreRefusedWork_InTheService()
    {
        var team = await NewTeamAsync();
        var ids = await SendManyAsync(team, 1);
        var queue = await AsAsync(team, team.Admin, q => q.CreateAsync(Everything()));
        var work = await AsAsync(team, team.A, q => q.NextAsync(queue.Id));

        Assert.False(Assert.Single(await AsAsync(team, team.Viewer, q => q.ListAsync())).CanReview);
        Assert.Equal(1, (await AsAsync(team, team.Viewer, q => q.GetProgressAsync(queue.Id))).Counts.Remaining);
        await Assert.ThrowsAsync<PermissionDeniedException>(() => AsAsync(team, team.Viewer, q => q.NextAsync(queue.Id)));
        await Assert.ThrowsAsync<PermissionDeniedException>(() => AsAsync(team, team.Viewer, q => q.CompleteAsync(work!.ItemId, QueueVerdictInput.Accept())));
        await Assert.ThrowsAsync<PermissionDeniedException>(() => AsAsync(team, team.Viewer, q => q.KeepAliveAsync(work!.ItemId)));
        Assert.Equal(ReviewStatus.Pending, (await ReviewsAsync(team, team.Owner, r => r.GetAsync(ids[0]))).Status);
    }

    [Fact]
    public async Task AnAssignedQueue_HandsWorkOnlyToItsAssignees()
    {
        var team = await NewTeamAsync();
        await SendManyAsync(team, 1);
        var queue = await AsAsync(team, team.Admin, q => q.CreateAsync(Everything(assignees: [team.A.Id])));

        await Assert.ThrowsAsync<PermissionDeniedException>(() => AsAsync(team, team.B, q => q.NextAsync(queue.Id)));
        Assert.False(Assert.Single(await AsAsync(team, team.B, q => q.ListAsync())).CanReview);
        Assert.NotNull(await AsAsync(team, team.A, q => q.NextAsync(queue.Id)));
        var progress = await AsAsync(team, team.B, q => q.GetProgressAsync(queue.Id));
        Assert.Equal([team.A.Id], progress.Reviewers.Select(r => r.UserId));
    }

    [Fact]
    public async Task AVerdict_IsCheckedLikeAReview_AndCannotBeGivenTwice()
    {
        var team = await NewTeamAsync();
        await SendManyAsync(team, 1);
        var queue = await AsAsync(team, team.Admin, q => q.CreateAsync(Everything(reviews: 2)));
        var work = await AsAsync(team, team.A, q => q.NextAsync(queue.Id));

        var error = await Assert.ThrowsAsync<InputValidationException>(() => AsAsync(team, team.A, q => q.CompleteAsync(work!.ItemId, new QueueVerdictInput(ReviewAction.Reject, "made_up"))));
        Assert.Equal("reason", Assert.Single(error.Errors).Field);
        await Assert.ThrowsAsync<DomainValidationException>(() => AsAsync(team, team.A, q => q.CompleteAsync(work!.ItemId, new QueueVerdictInput(ReviewAction.Reset))));
        await AsAsync(team, team.A, q => q.CompleteAsync(work!.ItemId, QueueVerdictInput.Accept()));
        var again = await Assert.ThrowsAsync<ConflictException>(() => AsAsync(team, team.A, q => q.CompleteAsync(work!.ItemId, QueueVerdictInput.Accept())));
        Assert.Contains("already reviewed", again.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnotherTeam_SeesNothingOfTheQueue()
    {
        var team = await NewTeamAsync();
        var other = await NewTeamAsync();
        await SendManyAsync(team, 1);
        var queue = await AsAsync(team, team.Admin, q => q.CreateAsync(Everything()));

        Assert.Empty(await AsAsync(other, other.Owner, q => q.ListAsync()));
        await Assert.ThrowsAsync<NotFoundException>(() => AsAsync(other, other.Owner, q => q.GetProgressAsync(queue.Id)));
        await Assert.ThrowsAsync<NotFoundException>(() => AsAsync(other, other.A, q => q.NextAsync(queue.Id)));
        await Assert.ThrowsAsync<NotFoundException>(() => AsAsync(other, other.Owner, q => q.DeleteAsync(queue.Id)));
        // Its own queue over "every trace" does not see the first team's traces either.
        var own = await AsAsync(other, other.Admin, q => q.CreateAsync(Everything()));
        Assert.Null(await AsAsync(other, other.A, q => q.NextAsync(own.Id)));
    }
}

public sealed class QueueServicePostgresTests(PostgresAppFactory app) : QueueServiceTests(app), IClassFixture<PostgresAppFactory>;

public sealed class QueueServiceSqliteTests(SqliteAppFactory app) : QueueServiceTests(app), IClassFixture<SqliteAppFactory>;
