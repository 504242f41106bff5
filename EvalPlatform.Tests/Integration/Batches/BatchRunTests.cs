using EvalPlatform.Core.Batches;
using EvalPlatform.Core.Common;
using EvalPlatform.Core.Teams;
using EvalPlatform.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace EvalPlatform.Tests.Integration.Batches;

/// <summary>
/// Batch runs on the real job runtime (a Quartz job per run): a run completes chunk by chunk, a cancel stops it between
/// chunks, another team can neither read nor cancel it. Both databases.
/// </summary>
public abstract class BatchRunTests(BatchAppFactory app)
{
    [Fact]
    public async Task Run_CompletesChunkByChunk_WithCountsCursorAndTimes()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        var runId = await app.StartAsync(team, CountingBatchHandler.PayloadOf(items: 7, chunk: 3, fail: [4]));

        var run = await app.WaitForAsync(team, runId, r => r.IsFinal, "the run to finish");

        Assert.Equal(BatchRunStatus.Completed, run.Status);
        Assert.Equal(7, run.Total);
        Assert.Equal(6, run.Done);
        Assert.Equal(1, run.Failed);
        Assert.Equal("7", run.Cursor);
        Assert.Equal("item 4 failed", run.LastError);
        Assert.Equal(team.OwnerId, run.CreatedBy);
        Assert.NotNull(run.StartedAt);
        Assert.NotNull(run.FinishedAt);
        Assert.True(run.FinishedAt >= run.StartedAt);
        Assert.Equal([0, 1, 2, 3, 4, 5, 6], app.Probe.ItemsOf(runId));
    }

    [Fact]
    public async Task Cancel_StopsTheRunBetweenChunks_TheChunkUnderWayFinishes()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        var gate = app.Probe.Gate($"cancel-{Guid.NewGuid():N}", atCursor: 3);
        var runId = await app.StartAsync(team, CountingBatchHandler.PayloadOf(items: 12, chunk: 3, gate: app.Probe.Gates.Single(g => g.Value == gate).Key));
        await gate.Reached.Task.WaitAsync(TimeSpan.FromSeconds(30));

        await using (var scope = app.ScopeFor(team))
        {
            var asked = await scope.ServiceProvider.GetRequiredService<BatchRuns>().CancelAsync(runId);
            Assert.Equal(BatchRunStatus.Cancelling, asked.Status);
        }

        gate.Release.SetResult();
        var run = await app.WaitForAsync(team, runId, r => r.IsFinal, "the cancelled run to stop");

        Assert.Equal(BatchRunStatus.Cancelled, run.Status);
        Assert.Equal(6, run.Done);
        Assert.Equal("6", run.Cursor);
        Assert.Equal([0, 1, 2, 3, 4, 5], app.Probe.ItemsOf(runId));
    }

    [Fact]
    public async Task Cancel_OfAQueuedRun_IsFinalAtOnce_AndAFinishedRunStaysFinished()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        var runId = await app.StartAsync(team, CountingBatchHandler.PayloadOf(items: 2, chunk: 5));
        var done = await app.WaitForAsync(team, runId, r => r.IsFinal, "the run to finish");
        Assert.Equal(BatchRunStatus.Completed, done.Status);

        await using var scope = app.ScopeFor(team);
        var again = await scope.ServiceProvider.GetRequiredService<BatchRuns>().CancelAsync(runId);
        Assert.Equal(BatchRunStatus.Completed, again.Status);
    }

    [Fact]
    public async Task AnotherTeam_CannotReadListOrCancelTheRun_AndAViewerCannotCancel()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        var other = await TestData.CreateTeamAsync(app.Services);
        var gate = app.Probe.Gate($"iso-{Guid.NewGuid():N}", atCursor: 0);
        var runId = await app.StartAsync(team, CountingBatchHandler.PayloadOf(items: 3, chunk: 3, gate: app.Probe.Gates.Single(g => g.Value == gate).Key));
        await gate.Reached.Task.WaitAsync(TimeSpan.FromSeconds(30));

        await using (var scope = app.ScopeFor(other))
        {
            var runs = scope.ServiceProvider.GetRequiredService<BatchRuns>();
            await Assert.ThrowsAsync<NotFoundException>(() => runs.GetAsync(runId));
            await Assert.ThrowsAsync<NotFoundException>(() => runs.CancelAsync(runId));
            Assert.Empty(await runs.ListAsync(CountingBatchHandler.TestKind));
        }

        var viewer = await TestData.CreateMemberAsync(app.Services, team.Id, TeamRole.Viewer);
        await using (var scope = app.ScopeAs(team.Id, viewer.UserId, TeamRole.Viewer))
        {
            var runs = scope.ServiceProvider.GetRequiredService<BatchRuns>();
            Assert.Equal(runId, (await runs.GetAsync(runId)).Id);
            await Assert.ThrowsAsync<PermissionDeniedException>(() => runs.CancelAsync(runId));
            await Assert.ThrowsAsync<PermissionDeniedException>(() => runs.StartAsync(new BatchRunStart(CountingBatchHandler.TestKind, "x", CountingBatchHandler.PayloadOf(1, 1))));
        }

        gate.Release.SetResult();
        var run = await app.WaitForAsync(team, runId, r => r.IsFinal, "the run to finish");
        Assert.Equal(BatchRunStatus.Completed, run.Status);
        await using (var scope = app.ScopeFor(team))
        {
            Assert.Contains(await scope.ServiceProvider.GetRequiredService<BatchRuns>().ListAsync(CountingBatchHandler.TestKind), r => r.Id == runId);
        }
    }

    [Fact]
    public async Task Start_WithAnUnknownKind_IsRefusedNamingTheField()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        await using var scope = app.ScopeFor(team);
        var refused = await Assert.ThrowsAsync<DomainValidationException>(() =>
            scope.ServiceProvider.GetRequiredService<BatchRuns>().StartAsync(new BatchRunStart("no-such-kind", "x", "{}")));
        Assert.Equal("kind", refused.Field);
    }
}

public sealed class PostgresBatchRunTests(BatchPostgresAppFactory app) : BatchRunTests(app), IClassFixture<BatchPostgresAppFactory>;

public sealed class SqliteBatchRunTests(BatchSqliteAppFactory app) : BatchRunTests(app), IClassFixture<BatchSqliteAppFactory>;
