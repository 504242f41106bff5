using EvalPlatform.Core.Common;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;

namespace EvalPlatform.Core.Jobs;

/// <summary>A job with its last run, as Settings → Jobs shows it.</summary>
public sealed record JobStatus(ScheduledJob Job, JobRun? LastRun);

/// <summary>
/// Settings → Jobs' door to the job runtime: the job table with each job's last run, and "Run now". Both need
/// <see cref="Permission.ManageJobs"/> (Admins and Owners).
/// </summary>
public sealed class JobService(IJobRunner runner, JobRunLog log, ITeamContext team)
{
    public bool Enabled => runner.Enabled;

    public async Task<IReadOnlyList<JobStatus>> ListAsync(CancellationToken ct = default)
    {
        Demand();
        var jobs = await runner.GetJobsAsync(ct);
        var last = await log.LastRunsAsync(jobs.Select(j => j.Key).ToList(), ct);
        return jobs.Select(j => new JobStatus(j, last.GetValueOrDefault(j.Key))).ToList();
    }

    public async Task RunNowAsync(string jobKey, CancellationToken ct = default)
    {
        Demand();
        var key = Require.Text("job", jobKey, JobRunLog.MaxJobKey);
        await runner.RunNowAsync(key, ct);
    }

    private void Demand()
    {
        if (!team.Can(Permission.ManageJobs))
        {
            throw new PermissionDeniedException("Seeing and running background jobs needs the Admin or Owner role.");
        }
    }
}
