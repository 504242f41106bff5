namespace EvalPlatform.Core.Jobs;

/// <summary>How a job run ended.</summary>
public enum JobOutcome
{
    Succeeded,
    Failed,
}

/// <summary>
/// One run of a background job, as the run log keeps it (table <c>job_runs</c>): platform data, not any team's.
/// Written once, when the run ends, by the node that ran it; kept for <see cref="JobRunLog.Retention"/>.
/// </summary>
public sealed class JobRun
{
    public Guid Id { get; set; }

    /// <summary>The job's key in the job table (e.g. <c>metrics-rollup</c>).</summary>
    public string JobKey { get; set; } = "";

    /// <summary>The scheduler instance (node) that ran it.</summary>
    public string Instance { get; set; } = "";

    /// <summary>True when someone asked for the run ("Run now"), not the schedule.</summary>
    public bool Manual { get; set; }

    /// <summary>When the schedule meant it to run (for a manual run, when it was asked for).</summary>
    public DateTimeOffset ScheduledAt { get; set; }

    public DateTimeOffset StartedAt { get; set; }

    public long DurationMs { get; set; }

    public JobOutcome Outcome { get; set; }

    /// <summary>The failure's message (type and message of the innermost exception), cut to <see cref="JobRunLog.MaxError"/>.</summary>
    public string? Error { get; set; }
}
