using System.Threading.Channels;
using EvalPlatform.Core.Providers.Proxy;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;

namespace EvalPlatform.Web.Providers;

/// <summary>
/// Records proxied calls in the background (ADR 30): the forwarder hands each finished call over here and returns, so the
/// caller's keep-alive connection is free for its next request the moment the answer is complete, instead of waiting for
/// the trace's group commit and the usage row. Each recording runs in a scope of its own, acting as the call's API key in
/// the call's team. The queue is bounded; when it is full (or the app is stopping) the forwarder records the call itself,
/// so a call is never left unrecorded. On shutdown the queue is drained before the ingestion writer stops (this service
/// is registered after it, and hosted services stop in reverse order).
/// </summary>
public sealed partial class ProxyRecordingWriter(IServiceScopeFactory scopes, ILogger<ProxyRecordingWriter> logger) : BackgroundService
{
    /// <summary>Calls waiting to be recorded; past this the forwarder records inline.</summary>
    public const int Capacity = 10_000;

    /// <summary>Recordings in flight at once: each waits on a group commit, so several share one transaction.</summary>
    private const int Workers = 8;

    private readonly Channel<Recording> _queue = Channel.CreateBounded<Recording>(new BoundedChannelOptions(Capacity)
    {
        FullMode = BoundedChannelFullMode.Wait,
    });

    /// <summary>Queues the call's recording; false when the queue is full or closed (the caller then records it itself).</summary>
    public bool TryQueue(ProxyExchange exchange, Guid? connectionId, ITeamContext team) =>
        team is { TeamId: { } teamId, ApiKeyId: { } keyId }
        && _queue.Writer.TryWrite(new Recording(exchange, connectionId, teamId, keyId, team.Scopes));

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(Enumerable.Range(0, Workers).Select(_ => Task.Run(WorkAsync, CancellationToken.None)));

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        // What is queued was answered already: record it before the ingestion writer drains and stops.
        _queue.Writer.TryComplete();
        await base.StopAsync(cancellationToken);
    }

    private async Task WorkAsync()
    {
        await foreach (var recording in _queue.Reader.ReadAllAsync(CancellationToken.None))
        {
            try
            {
                await using var scope = scopes.CreateAsyncScope();
                scope.ServiceProvider.GetRequiredService<TeamContext>().SetApiKey(recording.TeamId, recording.ApiKeyId, recording.Scopes);
                await scope.ServiceProvider.GetRequiredService<ProxyRecorder>().RecordAsync(recording.Exchange, recording.ConnectionId, CancellationToken.None);
            }
            catch (Exception e)
            {
                LogFailed(logger, e, recording.TeamId);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Recording a proxied call of team {TeamId} failed")]
    private static partial void LogFailed(ILogger logger, Exception exception, Guid teamId);

    private sealed record Recording(ProxyExchange Exchange, Guid? ConnectionId, Guid TeamId, Guid ApiKeyId, ApiKeyScopes Scopes);
}
