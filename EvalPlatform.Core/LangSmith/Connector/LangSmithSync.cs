using EvalPlatform.Core.Data;
using EvalPlatform.Core.Tenancy;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EvalPlatform.Core.LangSmith.Connector;

/// <summary>What one run of the sync job did: connections synced, and those that stopped with an error.</summary>
public sealed record LangSmithSyncRun(int Connections, int Failed, long RunsImported);

/// <summary>
/// The sync job's one call: every connection due (not paused, its next sync time passed), each in a scope of its own
/// acting for its team as an inbound source that may only ingest (<see cref="TeamContext.SetWebhook"/>, as a signed
/// webhook does: the team proved the source with its stored key). The one cross-team read is here.
/// </summary>
public sealed partial class LangSmithSync(IServiceScopeFactory scopes, IEvalDbContextFactory dbFactory, TimeProvider clock, ILogger<LangSmithSync> log)
{
    /// <summary>The actor imports act as (in the team's ingestion log and the write guard).</summary>
    public const string Source = "langsmith-import";

    public async Task<LangSmithSyncRun> RunDueAsync(CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        List<(Guid Id, Guid TeamId)> due;
        await using (var db = await dbFactory.CreateAsync(ct))
        {
            // Cross-team on purpose: the job serves every team.
            due = (await db.LangSmithConnections.IgnoreQueryFilters().AsNoTracking()
                    .Where(c => !c.Paused && c.NextSyncAt <= now)
                    .Select(c => new { c.Id, c.TeamId }).ToListAsync(ct))
                .Select(c => (c.Id, c.TeamId)).ToList();
        }

        var failed = 0;
        long imported = 0;
        foreach (var (id, teamId) in due)
        {
            var outcome = await SyncOneAsync(teamId, id, ct);
            imported += outcome?.RunsImported ?? 0;
            if (outcome?.Error is not null || outcome is null)
            {
                failed++;
            }
        }

        return new LangSmithSyncRun(due.Count, failed, imported);
    }

    /// <summary>Syncs one connection for its team, in a scope of its own; null when it failed outside LangSmith (logged).</summary>
    public async Task<LangSmithSyncOutcome?> SyncOneAsync(Guid teamId, Guid connectionId, CancellationToken ct)
    {
        await using var scope = scopes.CreateAsyncScope();
        scope.ServiceProvider.GetRequiredService<TeamContext>().SetWebhook(teamId, Source);
        try
        {
            return await scope.ServiceProvider.GetRequiredService<LangSmithImporter>().SyncAsync(connectionId, ct);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogFailed(log, e, connectionId);
            return null;
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "LangSmith sync of connection {ConnectionId} failed")]
    private static partial void LogFailed(ILogger logger, Exception exception, Guid connectionId);
}
