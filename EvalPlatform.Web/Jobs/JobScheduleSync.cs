using Quartz;

namespace EvalPlatform.Web.Jobs;

/// <summary>
/// At start, applies a schedule changed in the job table to the trigger stored for it (the store keeps triggers across
/// restarts so that missed runs are caught up; see <see cref="JobsServiceCollectionExtensions.AddEvalJobs(WebApplicationBuilder)"/>). Triggers whose
/// schedule did not change are left alone, misfires included.
/// </summary>
public sealed class JobScheduleSync(ISchedulerFactory schedulers, JobTable table, TimeProvider time, ILogger<JobScheduleSync> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var scheduler = await schedulers.GetScheduler(cancellationToken);
        foreach (var job in table.Jobs)
        {
            var stored = await scheduler.GetTrigger(new TriggerKey(job.Key), cancellationToken);
            if (stored is ICronTrigger cron && cron.CronExpressionString == job.Schedule.Cron)
            {
                continue;
            }

            var builder = TriggerBuilder.Create(time);
            JobsServiceCollectionExtensions.Trigger(builder, job);
            var trigger = builder.Build();
            if (stored is null)
            {
                await scheduler.ScheduleJob(trigger, cancellationToken: cancellationToken);
            }
            else
            {
                await scheduler.RescheduleJob(stored.Key, trigger, cancellationToken);
            }

            logger.LogInformation("Job {JobKey} now runs {Schedule} ({Cron})", job.Key, job.Schedule.Text, job.Schedule.Cron);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
