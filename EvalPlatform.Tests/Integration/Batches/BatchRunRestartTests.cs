using EvalPlatform.Core.Batches;
using EvalPlatform.Tests.Infrastructure;

namespace EvalPlatform.Tests.Integration.Batches;

/// <summary>
/// A node stopped in the middle of a run hands it back queued with its cursor; a new host on the same database (the same
/// installation) resumes it from there without redoing a finished item. Each test owns its database, so no other host
/// of the test run can pick the run up.
/// </summary>
public abstract class BatchRunRestartTests(TestDatabase database)
{
    protected abstract Task<(string ConnectionString, IAsyncDisposable Owner)> CreateDatabaseAsync();

    [Fact]
    public async Task Restart_ResumesFromTheSavedCursor_WithoutRedoingDoneItems()
    {
        var (connectionString, owner) = await CreateDatabaseAsync();
        await using var _ = owner;
        var schedulerName = $"EvalTest-restart-{Guid.NewGuid():N}";

        var first = new BatchAppFactory(database, connectionString, schedulerName);
        await ((IAsyncLifetime)first).InitializeAsync();
        var team = await TestData.CreateTeamAsync(first.Services);
        var gate = first.Probe.Gate("restart", atCursor: 4);
        var runId = await first.StartAsync(team, CountingBatchHandler.PayloadOf(items: 10, chunk: 2, gate: "restart"));
        await gate.Reached.Task.WaitAsync(TimeSpan.FromSeconds(30));
        // The node stops while the run waits at its third chunk: it is handed back, queued, cursor after the second.
        await first.DisposeAsync();
        Assert.Equal([0, 1, 2, 3], first.Probe.ItemsOf(runId));

        await using var second = new BatchAppFactory(database, connectionString, schedulerName);
        await ((IAsyncLifetime)second).InitializeAsync();
        var run = await second.WaitForAsync(team, runId, r => r.IsFinal, "the resumed run to finish");

        Assert.Equal(BatchRunStatus.Completed, run.Status);
        Assert.Equal(10, run.Done);
        Assert.Equal([4, 5, 6, 7, 8, 9], second.Probe.ItemsOf(runId));
    }
}

public sealed class PostgresBatchRunRestartTests() : BatchRunRestartTests(TestDatabase.Postgres)
{
    protected override async Task<(string, IAsyncDisposable)> CreateDatabaseAsync()
    {
        var db = await PostgresTestDatabase.CreateAsync();
        return (db.ConnectionString, db);
    }
}

public sealed class SqliteBatchRunRestartTests() : BatchRunRestartTests(TestDatabase.Sqlite)
{
    protected override Task<(string, IAsyncDisposable)> CreateDatabaseAsync()
    {
        var folder = Directory.CreateTempSubdirectory("evaltest-restart-").FullName;
        return Task.FromResult<(string, IAsyncDisposable)>(($"Data Source={Path.Combine(folder, "eval.db")}", new FolderOwner(folder)));
    }

    private sealed class FolderOwner(string folder) : IAsyncDisposable
    {
        public ValueTask DisposeAsync()
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(folder, recursive: true);
            return ValueTask.CompletedTask;
        }
    }
}
