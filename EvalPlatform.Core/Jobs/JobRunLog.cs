using EvalPlatform.Core.Data;
using Microsoft.EntityFrameworkCore;

namespace EvalPlatform.Core.Jobs;

/// <summary>
/// The job run log (<c>job_runs</c>): every run's key, node, scheduled and actual start, duration, outcome and error.
/// Platform data (no team), so its queries need no filter. Written by the scheduler's job listener in Web.
/// </summary>
public sealed class JobRunLog(IEvalDbContextFactory contexts, TimeProvider time)
{
    /// <summary>Runs older than this are deleted by the <c>job-run-purge</c> job.</summary>
    public static readonly TimeSpan Retention = TimeSpan.FromDays(14);

    public const int MaxJobKey = 100;
    public const int MaxInstance = 200;
    public const int MaxError = 4000;

    public async Task RecordAsync(JobRun run, CancellationToken ct = default)
    {
        if (run.Error is { Length: > MaxError } error)
        {
            run.Error = error[..MaxError];
        }

        await using var db = await contexts.CreateAsync(ct);
        db.JobRuns.Add(run);
        await db.SaveChangesAsync(ct);
    }

    /// <summary>The newest run of each of <paramref name="jobKeys"/> (absent for a job that never ran within the retention).</summary>
    public async Task<IReadOnlyDictionary<string, JobRun>> LastRunsAsync(IReadOnlyCollection<string> jobKeys, CancellationToken ct = default)
    {
        await using var db = await contexts.CreateAsync(ct);
        var last = new Dictionary<string, JobRun>(StringComparer.Ordinal);
        // One indexed probe per job (JobKey, StartedAt): the job table is a handful of rows, the log is not.
        foreach (var key in jobKeys)
        {
            var run = await db.JobRuns.AsNoTracking().Where(r => r.JobKey == key).OrderByDescending(r => r.StartedAt).FirstOrDefaultAsync(ct);
            if (run is not null)
            {
                last[key] = run;
            }
        }

        return last;
    }

    /// <summary>The newest runs of one job, newest first.</summary>
    public async Task<IReadOnlyList<JobRun>> RecentRunsAsync(string jobKey, int take, CancellationToken ct = default)
    {
        await using var db = await contexts.CreateAsync(ct);
        return await db.JobRuns.AsNoTracking().Where(r => r.JobKey == jobKey).OrderByDescending(r => r.StartedAt).Take(take).ToListAsync(ct);
    }

    /// <summary>Deletes runs that started more than <see cref="Retention"/> ago; returns how many.</summary>
    public async Task<int> PurgeAsync(CancellationToken ct = default)
    {
        var before = time.GetUtcNow() - Retention;
        await using var db = await contexts.CreateAsync(ct);
        return await db.JobRuns.Where(r => r.StartedAt < before).ExecuteDeleteAsync(ct);
    }
}
