using System.Net;
using EvalPlatform.Core.Audit;
using EvalPlatform.Core.Common;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Providers;
using EvalPlatform.Core.Queues;
using EvalPlatform.Core.Retention;
using EvalPlatform.Core.Reviews;
using EvalPlatform.Core.Scores;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Core.Traces;
using EvalPlatform.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace EvalPlatform.Tests.Integration.Retention;

/// <summary>
/// Trace retention per team on the app's controlled clock (ADR 37): the setting (range, permission, audit entry), and the
/// purge that deletes a team's traces past it with every row keyed by them, in batches, and leaves other teams alone.
/// </summary>
public abstract class TraceRetentionTests(ClockedAppFactory app)
{
    /// <summary>The ids of one trace and of each row hanging off it.</summary>
    private sealed record Seeded(Guid Trace, Guid Span, Guid Score, Guid Change, Guid Queue, Guid Item, Guid Verdict, Guid Call);

    [Fact]
    public async Task Purge_DeletesATeamsTracesPastItsRetention_WithEveryDependant_InBatches_AndLeavesOtherTeamsAlone()
    {
        var now = app.Clock.GetUtcNow();
        var teamA = await TestData.CreateTeamAsync(app.Services);
        var teamB = await TestData.CreateTeamAsync(app.Services);
        await AsAsync(teamA.Id, teamA.OwnerId, TeamRole.Owner, s => s.SetAsync(7));

        var oldA = await SeedAsync(teamA.Id, now.AddDays(-8));
        var youngA = await SeedAsync(teamA.Id, now.AddDays(-6));
        // More than one batch (batches of 2 below): five more old traces of A, without dependants.
        var moreOldA = new List<Guid>();
        for (var i = 0; i < 5; i++)
        {
            moreOldA.Add((await SeedAsync(teamA.Id, now.AddDays(-9).AddMinutes(i))).Trace);
        }

        var oldB = await SeedAsync(teamB.Id, now.AddDays(-400));

        TracePurgeRun run;
        await using (var scope = app.Services.CreateAsyncScope())
        {
            var purge = new TracePurge(scope.ServiceProvider.GetRequiredService<IServiceScopeFactory>(),
                Options.Create(new RetentionOptions { TraceBatchSize = 2 }), app.Clock, NullLogger<TracePurge>.Instance);
            run = await purge.PurgeAsync();
        }

        Assert.Equal(0, run.Failed);
        Assert.True(run.Traces >= 6, run.ToString());
        await AssertGoneAsync(oldA);
        await AssertKeptAsync(youngA);
        await AssertKeptAsync(oldB);
        Assert.Equal(0, await CountAsync(db => db.Traces.IgnoreQueryFilters().CountAsync(t => moreOldA.Contains(t.Id))));

        // Two days later on the app's clock, the app's own purge (batches of 1,000) finds the then 8-day-old trace too.
        app.Clock.Advance(TimeSpan.FromDays(2));
        await app.Services.GetRequiredService<TracePurge>().PurgeAsync();
        await AssertGoneAsync(youngA);
        await AssertKeptAsync(oldB);
    }

    [Fact]
    public async Task Purge_OfOneTeamFailing_IsCountedAndLogged_AndTheTeamsAfterItArePurgedAllTheSame()
    {
        var now = app.Clock.GetUtcNow();
        // Teams are purged in id order (time-ordered): the broken team comes first.
        var broken = await TestData.CreateTeamAsync(app.Services);
        app.Clock.Advance(TimeSpan.FromSeconds(1));
        var good = await TestData.CreateTeamAsync(app.Services);
        await AsAsync(good.Id, good.OwnerId, TeamRole.Owner, s => s.SetAsync(7));
        var old = await SeedAsync(good.Id, now.AddDays(-8));
        await using (var scope = app.Services.CreateAsyncScope())
        await using (var db = await scope.ServiceProvider.GetRequiredService<IEvalDbContextFactory>().CreateAsync())
        {
            // A value the service never stores: the cut-off cannot be computed, so this team's purge throws.
            await db.Teams.Where(t => t.Id == broken.Id).ExecuteUpdateAsync(s => s.SetProperty(t => t.TraceRetentionDays, int.MaxValue));
        }

        try
        {
            var run = await app.Services.GetRequiredService<TracePurge>().PurgeAsync();
            Assert.True(run.Failed >= 1, run.ToString());
            await AssertGoneAsync(old);
        }
        finally
        {
            await using var scope = app.Services.CreateAsyncScope();
            await using var db = await scope.ServiceProvider.GetRequiredService<IEvalDbContextFactory>().CreateAsync();
            await db.Teams.Where(t => t.Id == broken.Id).ExecuteUpdateAsync(s => s.SetProperty(t => t.TraceRetentionDays, (int?)null));
        }
    }

    [Fact]
    public async Task Purge_CoversEveryEntityWithATraceId_InTheModel()
    {
        // No foreign keys lead from the ingestion tables (ADR 11): whatever carries a trace id must be in the purge's list,
        // or a new feature's rows would outlive their traces.
        await using var scope = app.Services.CreateAsyncScope();
        await using var db = await scope.ServiceProvider.GetRequiredService<IEvalDbContextFactory>().CreateAsync();
        var withTraceId = ((DbContext)db).Model.GetEntityTypes()
            .Where(e => e.GetProperties().Any(p => p.Name.EndsWith("TraceId", StringComparison.Ordinal) && (Nullable.GetUnderlyingType(p.ClrType) ?? p.ClrType) == typeof(Guid)))
            .Select(e => e.ClrType).ToList();
        Assert.Contains(typeof(Span), withTraceId);
        Assert.Contains(typeof(ProviderCall), withTraceId);
        Assert.All(withTraceId, t => Assert.Contains(t, TracePurge.Dependants));
    }

    [Fact]
    public async Task Setting_IsValidated_NeedsManageTeam_AndIsAudited()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        Assert.Null((await AsAsync(team.Id, team.OwnerId, TeamRole.Owner, s => s.GetAsync())).KeepDays);

        foreach (var bad in new[] { 0, -1, 3_651 })
        {
            var e = await Assert.ThrowsAsync<DomainValidationException>(() => AsAsync(team.Id, team.OwnerId, TeamRole.Owner, s => s.SetAsync(bad)));
            Assert.Equal("keep_days", e.Field);
        }

        var (reviewer, _) = await TestData.CreateMemberAsync(app.Services, team.Id, TeamRole.Reviewer);
        await Assert.ThrowsAsync<PermissionDeniedException>(() => AsAsync(team.Id, reviewer, TeamRole.Reviewer, s => s.SetAsync(30)));
        Assert.Null((await AsAsync(team.Id, reviewer, TeamRole.Reviewer, s => s.GetAsync())).KeepDays);

        var (admin, _) = await TestData.CreateMemberAsync(app.Services, team.Id, TeamRole.Admin);
        Assert.Equal(30, (await AsAsync(team.Id, admin, TeamRole.Admin, s => s.SetAsync(30))).KeepDays);
        app.Clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(3_650, (await AsAsync(team.Id, admin, TeamRole.Admin, s => s.SetAsync(3_650))).KeepDays);
        app.Clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Null((await AsAsync(team.Id, admin, TeamRole.Admin, s => s.SetAsync(null))).KeepDays);
        // Saving the same value again changes nothing and records nothing.
        await AsAsync(team.Id, admin, TeamRole.Admin, s => s.SetAsync(null));

        await using var scope = app.Services.CreateAsyncScope();
        await using var db = await scope.ServiceProvider.GetRequiredService<IEvalDbContextFactory>().CreateAsync();
        var entries = await db.AuditEntries.IgnoreQueryFilters().Where(e => e.TeamId == team.Id && e.Action == AuditActions.RetentionChanged)
            .OrderBy(e => e.At).ToListAsync();
        Assert.Equal(
            [("forever", "30 days"), ("30 days", "3650 days"), ("3650 days", "forever")],
            entries.Select(e => (AuditLog.ReadDetails(e)["from"], AuditLog.ReadDetails(e)["to"])).ToList());
        Assert.All(entries, e => Assert.Equal(admin, e.ActorId));
    }

    [Fact]
    public async Task Api_ReadsTheSetting_WithAReadKey_ForItsOwnTeamOnly()
    {
        var (client, team) = await ApiClient.ForNewTeamAsync(app, ApiKeyScopes.Read);
        using var _ = client;
        var (other, otherTeam) = await ApiClient.ForNewTeamAsync(app, ApiKeyScopes.Read);
        using var __ = other;
        await AsAsync(team.Id, team.OwnerId, TeamRole.Owner, s => s.SetAsync(14));

        Assert.Equal(14, (await client.GetJsonAsync("/api/v1/team/retention")).GetProperty("keep_days").GetInt32());
        Assert.Equal(System.Text.Json.JsonValueKind.Null, (await other.GetJsonAsync("/api/v1/team/retention")).GetProperty("keep_days").ValueKind);

        using var ingestOnly = await ApiClient.ForTeamAsync(app, otherTeam.Id, ApiKeyScopes.Ingest);
        Assert.Equal(HttpStatusCode.Forbidden, (await ingestOnly.Http.GetAsync(new Uri("/api/v1/team/retention", UriKind.Relative))).StatusCode);
    }

    private async Task<Seeded> SeedAsync(Guid teamId, DateTimeOffset at)
    {
        var s = new Seeded(Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid());
        await using var scope = app.Services.CreateAsyncScope();
        scope.ServiceProvider.GetRequiredService<TeamContext>().SetJob(teamId, "seed"); // writes are for the team acted for
        await using var db = await scope.ServiceProvider.GetRequiredService<IEvalDbContextFactory>().CreateAsync();
        db.Traces.Add(new Trace
        {
            Id = s.Trace, TeamId = teamId, StartedAt = at, CreatedAt = at, UpdatedAt = at, SortKey = Trace.MakeSortKey(at, s.Trace),
            ReviewStatus = ReviewStatus.Rejected, ReviewNote = "a note", ReviewVersion = 1,
        });
        db.Spans.Add(new Span { Id = s.Span, TeamId = teamId, TraceId = s.Trace, Name = "llm", StartedAt = at, Input = "hi" });
        db.Scores.Add(new Score { Id = s.Score, TeamId = teamId, TraceId = s.Trace, Name = "helpful", NumericValue = 1, CreatedAt = at });
        db.ReviewChanges.Add(new ReviewChange
        {
            Id = s.Change, TeamId = teamId, TraceId = s.Trace, Version = 1, Action = ReviewAction.Reject, ActorId = "u", ActorName = "u@example.test",
            At = at, ToStatus = ReviewStatus.Rejected, ToNote = "a note",
        });
        db.ReviewQueues.Add(new ReviewQueue { Id = s.Queue, TeamId = teamId, Name = TestData.Unique("queue"), CreatedAt = at, UpdatedAt = at });
        db.QueueItems.Add(new QueueItem { Id = s.Item, TeamId = teamId, QueueId = s.Queue, TraceId = s.Trace, EnteredAt = at, VerdictCount = 1 });
        db.QueueClaims.Add(new QueueClaim { QueueItemId = s.Item, TeamId = teamId, QueueId = s.Queue, UserId = "u", ClaimedAt = at, ExpiresAt = at.AddMinutes(10) });
        db.QueueVerdicts.Add(new QueueVerdict
        {
            Id = s.Verdict, TeamId = teamId, QueueId = s.Queue, QueueItemId = s.Item, TraceId = s.Trace, ReviewerId = "u", ReviewerName = "u@example.test",
            Action = ReviewAction.Reject, GivenAt = at,
        });
        db.ProviderCalls.Add(new ProviderCall { Id = s.Call, TeamId = teamId, ConnectionId = Guid.NewGuid(), At = at, Cost = 0.5m, TraceId = s.Trace });
        await db.SaveChangesAsync();
        return s;
    }

    private async Task AssertGoneAsync(Seeded s)
    {
        Assert.Equal(new[] { 0, 0, 0, 0, 0, 0, 0 }, await CountsAsync(s));
        // The call stays (the connection's usage, its budget's spend) without its trace.
        await using var scope = app.Services.CreateAsyncScope();
        await using var db = await scope.ServiceProvider.GetRequiredService<IEvalDbContextFactory>().CreateAsync();
        var call = await db.ProviderCalls.IgnoreQueryFilters().SingleAsync(c => c.Id == s.Call);
        Assert.Null(call.TraceId);
        Assert.Equal(0.5m, call.Cost);
        // The queue itself is the team's, not the trace's.
        Assert.Equal(1, await db.ReviewQueues.IgnoreQueryFilters().CountAsync(q => q.Id == s.Queue));
    }

    private async Task AssertKeptAsync(Seeded s)
    {
        Assert.Equal(new[] { 1, 1, 1, 1, 1, 1, 1 }, await CountsAsync(s));
        await using var scope = app.Services.CreateAsyncScope();
        await using var db = await scope.ServiceProvider.GetRequiredService<IEvalDbContextFactory>().CreateAsync();
        Assert.Equal(s.Trace, (await db.ProviderCalls.IgnoreQueryFilters().SingleAsync(c => c.Id == s.Call)).TraceId);
    }

    /// <summary>Rows left of: the trace, its span, score, review change, queue item, queue claim, queue verdict.</summary>
    private async Task<int[]> CountsAsync(Seeded s)
    {
        await using var scope = app.Services.CreateAsyncScope();
        await using var db = await scope.ServiceProvider.GetRequiredService<IEvalDbContextFactory>().CreateAsync();
        return
        [
            await db.Traces.IgnoreQueryFilters().CountAsync(t => t.Id == s.Trace),
            await db.Spans.IgnoreQueryFilters().CountAsync(x => x.TraceId == s.Trace),
            await db.Scores.IgnoreQueryFilters().CountAsync(x => x.TraceId == s.Trace),
            await db.ReviewChanges.IgnoreQueryFilters().CountAsync(x => x.TraceId == s.Trace),
            await db.QueueItems.IgnoreQueryFilters().CountAsync(x => x.TraceId == s.Trace),
            await db.QueueClaims.IgnoreQueryFilters().CountAsync(x => x.QueueItemId == s.Item),
            await db.QueueVerdicts.IgnoreQueryFilters().CountAsync(x => x.TraceId == s.Trace),
        ];
    }

    private async Task<int> CountAsync(Func<IEvalDbContext, Task<int>> count)
    {
        await using var scope = app.Services.CreateAsyncScope();
        await using var db = await scope.ServiceProvider.GetRequiredService<IEvalDbContextFactory>().CreateAsync();
        return await count(db);
    }

    private async Task<T> AsAsync<T>(Guid teamId, string userId, TeamRole role, Func<RetentionService, Task<T>> act)
    {
        await using var scope = app.Services.CreateAsyncScope();
        scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(teamId, userId, role);
        return await act(scope.ServiceProvider.GetRequiredService<RetentionService>());
    }
}

public sealed class TraceRetentionPostgresTests(ClockedPostgresAppFactory app) : TraceRetentionTests(app), IClassFixture<ClockedPostgresAppFactory>;

public sealed class TraceRetentionSqliteTests(ClockedSqliteAppFactory app) : TraceRetentionTests(app), IClassFixture<ClockedSqliteAppFactory>;
