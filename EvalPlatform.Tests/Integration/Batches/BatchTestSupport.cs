using System.Collections.Concurrent;
using System.Text.Json;
using EvalPlatform.Core.Batches;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace EvalPlatform.Tests.Integration.Batches;

/// <summary>What the counting handler did on one host: every item it processed, and gates a test holds a run at.</summary>
public sealed class BatchProbe
{
    public ConcurrentQueue<(Guid RunId, int Item)> Processed { get; } = new();

    /// <summary>Gates by name: a run whose payload names one waits at the start of the chunk from <see cref="BatchGate.AtCursor"/>.</summary>
    public ConcurrentDictionary<string, BatchGate> Gates { get; } = new();

    public List<int> ItemsOf(Guid runId) => Processed.Where(p => p.RunId == runId).Select(p => p.Item).ToList();

    public BatchGate Gate(string name, int atCursor) => Gates[name] = new BatchGate(atCursor);
}

public sealed class BatchGate(int atCursor)
{
    public int AtCursor { get; } = atCursor;
    public TaskCompletionSource Reached { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>
/// A real handler of the test kind <c>test-count</c>: items 0..Items-1 in chunks of Chunk; the items listed in Fail fail;
/// the cursor is the next item. Its payload: <c>{"items":7,"chunk":3,"fail":[4],"gate":"name"}</c>.
/// </summary>
public sealed class CountingBatchHandler(BatchProbe probe) : IBatchRunHandler
{
    public const string TestKind = "test-count";

    public string Kind => TestKind;

    public Permission Permission => Permission.ManageTeam;

    public sealed record Payload(int Items, int Chunk, int[]? Fail = null, string? Gate = null);

    public static string PayloadOf(int items, int chunk, int[]? fail = null, string? gate = null) =>
        JsonSerializer.Serialize(new Payload(items, chunk, fail, gate), JsonSerializerOptions.Web);

    public async Task<BatchChunkResult> ProcessChunkAsync(BatchChunk chunk, CancellationToken ct)
    {
        var payload = JsonSerializer.Deserialize<Payload>(chunk.Payload, JsonSerializerOptions.Web)!;
        var from = chunk.Cursor is null ? 0 : int.Parse(chunk.Cursor, System.Globalization.CultureInfo.InvariantCulture);
        if (payload.Gate is { } name && probe.Gates.TryGetValue(name, out var gate) && gate.AtCursor == from)
        {
            gate.Reached.TrySetResult();
            await gate.Release.Task.WaitAsync(ct);
        }

        var to = Math.Min(payload.Items, from + payload.Chunk);
        int done = 0, failed = 0;
        string? error = null;
        for (var i = from; i < to; i++)
        {
            probe.Processed.Enqueue((chunk.RunId, i));
            if (payload.Fail?.Contains(i) == true)
            {
                failed++;
                error = $"item {i} failed";
            }
            else
            {
                done++;
            }
        }

        return new BatchChunkResult(to.ToString(System.Globalization.CultureInfo.InvariantCulture), done, failed, to >= payload.Items, error, payload.Items);
    }
}

/// <summary>The app with its jobs on (Quartz: clustered store on PostgreSQL, in memory on SQLite) and the counting handler.</summary>
public class BatchAppFactory(TestDatabase database, string? sharedConnectionString = null, string? schedulerName = null)
    : EvalAppFactory(database, redis: database == TestDatabase.Postgres, sharedConnectionString: sharedConnectionString, schedulerName: schedulerName)
{
    public BatchProbe Probe { get; } = new();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureTestServices(s =>
        {
            s.AddSingleton(Probe);
            s.AddScoped<IBatchRunHandler, CountingBatchHandler>();
        });
    }

    public AsyncServiceScope ScopeAs(Guid teamId, string userId, TeamRole role)
    {
        var scope = Services.CreateAsyncScope();
        scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(teamId, userId, role);
        return scope;
    }

    public AsyncServiceScope ScopeFor(TestTeam team) => ScopeAs(team.Id, team.OwnerId, TeamRole.Owner);

    public async Task<Guid> StartAsync(TestTeam team, string payload, string title = "Counting")
    {
        await using var scope = ScopeFor(team);
        return await scope.ServiceProvider.GetRequiredService<BatchRuns>().StartAsync(new BatchRunStart(CountingBatchHandler.TestKind, title, payload));
    }

    public async Task<BatchRun> GetAsync(TestTeam team, Guid runId)
    {
        await using var scope = ScopeFor(team);
        return await scope.ServiceProvider.GetRequiredService<BatchRuns>().GetAsync(runId);
    }

    /// <summary>Waits until the run satisfies <paramref name="condition"/>; fails after 30 s with what it last saw.</summary>
    public async Task<BatchRun> WaitForAsync(TestTeam team, Guid runId, Func<BatchRun, bool> condition, string what)
    {
        BatchRun? run = null;
        await Wait.UntilAsync(async () => condition(run = await GetAsync(team, runId)), what, onTimeout: () =>
            $"The run is {run?.Status} with {run?.Done} done, {run?.Failed} failed, cursor {run?.Cursor}, error {run?.LastError}.");
        return run!;
    }
}

public sealed class BatchPostgresAppFactory() : BatchAppFactory(TestDatabase.Postgres);

public sealed class BatchSqliteAppFactory() : BatchAppFactory(TestDatabase.Sqlite);
