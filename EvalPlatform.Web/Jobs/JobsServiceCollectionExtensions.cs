using EvalPlatform.Core.Jobs;
using EvalPlatform.Data;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Quartz;

namespace EvalPlatform.Web.Jobs;

public static class JobsServiceCollectionExtensions
{
    /// <summary>
    /// The background-job runtime (ADR 16): Quartz in-process, every row of <see cref="EvalJobs.All"/> scheduled, each run
    /// written to the run log. On PostgreSQL a clustered ADO.NET store in the app's database (the <c>qrtz_*</c> tables come from
    /// our migration <c>Jobs</c>), so each run happens on one node; on SQLite the in-memory store.
    /// </summary>
    public static WebApplicationBuilder AddEvalJobs(this WebApplicationBuilder builder)
    {
        builder.Services.AddEvalJobs(builder.Configuration);
        return builder;
    }

    /// <inheritdoc cref="AddEvalJobs(WebApplicationBuilder)"/>
    public static IServiceCollection AddEvalJobs(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<JobsOptions>().BindConfiguration(JobsOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        var options = configuration.GetSection(JobsOptions.SectionName).Get<JobsOptions>() ?? new JobsOptions();
        var table = new JobTable(EvalJobs.All);
        services.TryAddSingleton(table);

        if (!options.Enabled)
        {
            services.AddSingleton<IJobRunner, DisabledJobRunner>();
            return services;
        }

        var postgres = configuration[DatabaseTarget.PostgresKey];
        services.AddQuartz(q =>
        {
            q.ConfigureScheduler(s =>
            {
                s.InstanceName = options.SchedulerName;
                // Each node names itself (host and start time): the run log says which node ran what.
                s.GenerateInstanceId = true;
            });

            if (!string.IsNullOrWhiteSpace(postgres))
            {
                q.UsePersistentStore(store =>
                {
                    store.UsePostgres(postgres);
                    store.UseSystemTextJsonSerializer();
                    // Every node of the installation shares the store; a trigger fires on exactly one of them.
                    store.UseClustering();
                    // The tables are ours (migration Jobs): Quartz checks them at start and never creates them.
                    store.ConfigureStore(s => s.SchemaProvisioning = SchemaProvisioning.Validate);
                });
            }
            else
            {
                q.UseInMemoryStore();
            }

            foreach (var job in table.Jobs)
            {
                q.AddJob(job.JobType, j => j.WithIdentity(job.Key).WithDescription(job.Description).StoreDurably());
                q.AddTrigger(t => Trigger(t, job));
            }

            q.AddJobListener<JobRunListener>();
        });

        services.Configure<QuartzOptions>(o =>
        {
            // A starting node keeps the stored triggers as they are: a trigger whose fire time passed while every node was
            // down is then a misfire, run once (FireAndProceed) instead of forgotten, as replacing it would. A schedule changed
            // in the job table is applied by JobScheduleSync.
            o.Scheduling.IgnoreDuplicates = true;
        });
        services.AddQuartzHostedService(o => o.WaitForJobsToComplete = true);
        services.AddHostedService<JobScheduleSync>();
        services.AddSingleton<IJobRunner, QuartzJobRunner>();
        // Batch runs (ADR 39): one Quartz job per run; unfinished runs without a job are scheduled at start and each minute.
        services.Replace(ServiceDescriptor.Singleton<Core.Batches.IBatchRunScheduler, QuartzBatchRunScheduler>());
        services.AddHostedService<BatchRunRecovery>();
        return services;
    }

    /// <summary>
    /// The trigger of a job-table row: its cron schedule in UTC. A run missed while every node was down runs once when one
    /// comes back, then the schedule goes on; jobs recompute from raw rows, so one late run catches up without double counting.
    /// </summary>
    internal static ITriggerConfigurator<IJob> Trigger(ITriggerConfigurator<IJob> trigger, JobDefinition job) => trigger
        .WithIdentity(job.Key)
        .ForJob(job.Key)
        .WithCronSchedule(job.Schedule.Cron, c => c.InTimeZone(TimeZoneInfo.Utc).WithMisfireInstruction(CronTriggerMisfireInstruction.FireAndProceed));
}
