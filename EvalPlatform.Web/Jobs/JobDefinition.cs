using Quartz;

namespace EvalPlatform.Web.Jobs;

/// <summary>When a job runs: a Quartz cron expression (seconds first, UTC) and the same in words for people.</summary>
public sealed record JobSchedule(string Cron, string Text)
{
    public static JobSchedule EveryMinute { get; } = new("0 * * * * ?", "Every minute");

    /// <summary>Every <paramref name="seconds"/> seconds (a divisor of 60).</summary>
    public static JobSchedule EverySeconds(int seconds) => new($"0/{seconds} * * * * ?", $"Every {seconds} seconds");

    /// <summary>Every <paramref name="minutes"/> minutes from the hour (a divisor of 60).</summary>
    public static JobSchedule EveryMinutes(int minutes) => new($"0 0/{minutes} * * * ?", $"Every {minutes} minutes");

    /// <summary>Once an hour, at <paramref name="minute"/> past.</summary>
    public static JobSchedule Hourly(int minute = 0) => new($"0 {minute} * * * ?", minute == 0 ? "Every hour" : $"Every hour at {minute:00} past");

    /// <summary>Once a day at <paramref name="hour"/>:<paramref name="minute"/> UTC.</summary>
    public static JobSchedule Daily(int hour, int minute) => new($"0 {minute} {hour} * * ?", $"Daily at {hour:00}:{minute:00} UTC");
}

/// <summary>A row of the job table (<see cref="EvalJobs"/>): which class runs, under which key, when, and what it is for.</summary>
/// <param name="Key">The job's key (and its trigger's): stable, it names the job in the run log and in Quartz's tables.</param>
/// <param name="JobType">The <see cref="IJob"/> class, a thin shell that makes one Core call.</param>
/// <param name="Name">A short name for Settings → Jobs.</param>
/// <param name="Description">What it does, in a sentence.</param>
/// <param name="Schedule">When it runs.</param>
/// <param name="RecordOnlyFailures">A job that runs every few seconds: only its failed runs go to the run log (thousands of empty runs a day would drown the rest).</param>
public sealed record JobDefinition(string Key, Type JobType, string Name, string Description, JobSchedule Schedule, bool RecordOnlyFailures = false)
{
    public static JobDefinition Of<TJob>(string key, string name, string description, JobSchedule schedule, bool recordOnlyFailures = false) where TJob : IJob =>
        new(key, typeof(TJob), name, description, schedule, recordOnlyFailures);
}
