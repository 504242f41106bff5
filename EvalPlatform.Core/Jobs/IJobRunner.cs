namespace EvalPlatform.Core.Jobs;

/// <summary>
/// The background-job runtime as Core sees it (Quartz in Web): which jobs exist, when each runs next, and
/// "run this one now". Platform-wide and unchecked: <see cref="JobService"/> is the permission-checked door
/// for people.
/// </summary>
public interface IJobRunner
{
    /// <summary>False when this node runs no jobs (<c>Jobs:Enabled=false</c>).</summary>
    bool Enabled { get; }

    /// <summary>Every job in the job table, in its order, with its next fire time (null when none is planned or jobs are off).</summary>
    Task<IReadOnlyList<ScheduledJob>> GetJobsAsync(CancellationToken ct = default);

    /// <summary>
    /// Asks the scheduler to run <paramref name="jobKey"/> once, now (on whichever node of a cluster takes it), and
    /// returns when the request is stored, not when the run ends: the run log shows the run once it ended.
    /// Throws <see cref="Common.NotFoundException"/> for a key the job table does not have.
    /// </summary>
    Task RunNowAsync(string jobKey, CancellationToken ct = default);
}

/// <summary>A job of the job table and its next planned run.</summary>
/// <param name="Key">Its key, as the run log and the API name it.</param>
/// <param name="Name">A short name for people.</param>
/// <param name="Description">What it does, in a sentence.</param>
/// <param name="Schedule">The schedule in words (e.g. "Every minute").</param>
/// <param name="NextRunAt">The next planned fire time, or null.</param>
/// <param name="Running">True while a run of it is in progress on some node (as far as the scheduler can tell).</param>
public sealed record ScheduledJob(string Key, string Name, string Description, string Schedule, DateTimeOffset? NextRunAt, bool Running = false);
