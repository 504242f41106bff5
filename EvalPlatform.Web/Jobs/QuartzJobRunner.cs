using EvalPlatform.Core.Common;
using EvalPlatform.Core.Jobs;
using Quartz;

namespace EvalPlatform.Web.Jobs;

/// <summary><see cref="IJobRunner"/> on this node's Quartz scheduler (clustered on PostgreSQL, in memory on SQLite).</summary>
public sealed class QuartzJobRunner(ISchedulerFactory schedulers, JobTable table) : IJobRunner
{
    public bool Enabled => true;

    public async Task<IReadOnlyList<ScheduledJob>> GetJobsAsync(CancellationToken ct = default)
    {
        var scheduler = await schedulers.GetScheduler(ct);
        var jobs = new List<ScheduledJob>(table.Jobs.Count);
        foreach (var job in table.Jobs)
        {
            var trigger = await scheduler.GetTrigger(new TriggerKey(job.Key), ct);
            jobs.Add(new ScheduledJob(job.Key, job.Name, job.Description, job.Schedule.Text, trigger?.NextFireTimeUtc));
        }

        return jobs;
    }

    public async Task RunNowAsync(string jobKey, CancellationToken ct = default)
    {
        if (table.Find(jobKey) is null)
        {
            throw new NotFoundException($"There is no job '{jobKey}'.");
        }

        var scheduler = await schedulers.GetScheduler(ct);
        await scheduler.TriggerJob(new JobKey(jobKey), new JobDataMap { [JobRunListener.ManualRunKey] = "true" }, ct);
    }
}

/// <summary><see cref="IJobRunner"/> of a node with <c>Jobs:Enabled=false</c>: the jobs are listed, nothing is planned or run here.</summary>
public sealed class DisabledJobRunner(JobTable table) : IJobRunner
{
    public bool Enabled => false;

    public Task<IReadOnlyList<ScheduledJob>> GetJobsAsync(CancellationToken ct = default) =>
        Task.FromResult<IReadOnlyList<ScheduledJob>>(table.Jobs.Select(j => new ScheduledJob(j.Key, j.Name, j.Description, j.Schedule.Text, null)).ToList());

    public Task RunNowAsync(string jobKey, CancellationToken ct = default) =>
        throw new ConflictException("Jobs are turned off on this node (Jobs:Enabled=false), so it cannot run one.");
}

/// <summary>The job table as a service: <see cref="EvalJobs.All"/> plus any extra rows registered before <c>AddEvalJobs</c>.</summary>
public sealed class JobTable(IReadOnlyList<JobDefinition> jobs)
{
    public IReadOnlyList<JobDefinition> Jobs { get; } = jobs;

    public JobDefinition? Find(string key) => Jobs.FirstOrDefault(j => string.Equals(j.Key, key, StringComparison.Ordinal));
}
