using System.Threading.Channels;
using EvalPlatform.Core.Jobs;
using EvalPlatform.Core.Live;
using EvalPlatform.Core.Notifications;

namespace EvalPlatform.Web.Notifications;

/// <summary>
/// After a commit with notifications: tells the members' open pages (their bells recount) and nudges the delivery
/// worker, so a notification leaves in well under the delivery job's period. Never blocks the committing code.
/// </summary>
// The live bus is looked up at the first publish, not injected: the database's options hold this observer (through the
// commit interceptor), and the live bus connects to Redis when built, so injecting it made the first database use (the
// migration at start) connect to Redis and crash with an unhandled exception instead of the start-up probe's one line.
public sealed partial class NotificationCommitObserver(IServiceProvider services, DeliveryNudge nudge, ILogger<NotificationCommitObserver> logger) : INotificationCommitObserver
{
    public void Committed(bool deliveries, IReadOnlyList<(Guid TeamId, string UserId)> inApp)
    {
        if (deliveries)
        {
            nudge.Nudge();
        }

        foreach (var team in inApp.GroupBy(n => n.TeamId))
        {
            _ = PublishAsync(new NotificationsChanged(team.Key, team.Select(n => n.UserId).Distinct().ToList()));
        }
    }

    private async Task PublishAsync(NotificationsChanged change)
    {
        try
        {
            await services.GetRequiredService<ILiveBus>().PublishAsync(change, CancellationToken.None);
        }
#pragma warning disable CA1031 // A bell that misses one push recounts at the next; the commit already happened.
        catch (Exception e)
#pragma warning restore CA1031
        {
            LogPublishFailed(e, change.TeamId);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not announce new notifications of team {TeamId} on the live bus")]
    private partial void LogPublishFailed(Exception e, Guid teamId);
}

/// <summary>A coalescing wake-up signal for <see cref="DeliveryNudgeWorker"/>.</summary>
public sealed class DeliveryNudge
{
    private readonly Channel<bool> _signal = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });

    public void Nudge() => _signal.Writer.TryWrite(true);

    public ValueTask<bool> WaitAsync(CancellationToken ct) => _signal.Reader.ReadAsync(ct);
}

/// <summary>
/// Runs a delivery pass on this node as soon as outbox rows are committed here (the Quartz job every few seconds is the
/// backstop and the retry clock). Only where jobs run (<c>Jobs:Enabled</c>); the claim's lease keeps it from sending a
/// row the job sends at the same moment.
/// </summary>
public sealed partial class DeliveryNudgeWorker(DeliveryNudge nudge, IJobRunner jobs, IServiceScopeFactory scopes, ILogger<DeliveryNudgeWorker> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!jobs.Enabled)
        {
            return;
        }

        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await nudge.WaitAsync(stoppingToken);
                await using var scope = scopes.CreateAsyncScope();
                await scope.ServiceProvider.GetRequiredService<NotificationDeliverer>().DeliverDueAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
#pragma warning disable CA1031 // The job retries whatever this pass could not do; the worker must keep listening.
            catch (Exception e)
#pragma warning restore CA1031
            {
                LogPassFailed(e);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "A nudged notification delivery pass failed; the delivery job retries")]
    private partial void LogPassFailed(Exception e);
}
