namespace EvalPlatform.Core.LangSmith.Connector;

/// <summary>
/// The status page's figures derived from what a project saves with each page (never estimated from elsewhere): runs
/// imported today (the UTC day, as evaluator budgets count theirs), and a running backfill's rate and time left.
/// </summary>
public static class LangSmithProgress
{
    /// <summary>The UTC day <paramref name="at"/> falls in, as its midnight.</summary>
    public static DateTimeOffset Day(DateTimeOffset at) => new(at.UtcDateTime.Date, TimeSpan.Zero);

    /// <summary>Runs the project imported on <paramref name="now"/>'s day: its saved count belongs to another day once the day has turned.</summary>
    public static long ImportedToday(LangSmithProject project, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(project);
        return project.ImportDay == Day(now) ? project.RunsImportedToday : 0;
    }

    /// <summary>
    /// Adds a page's imported runs to today's count, starting the count afresh when the page is the first of a new day.
    /// </summary>
    public static void CountImported(LangSmithProject project, long imported, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(project);
        var day = Day(now);
        if (project.ImportDay != day)
        {
            project.ImportDay = day;
            project.RunsImportedToday = 0;
        }

        project.RunsImportedToday += imported;
    }

    /// <summary>
    /// A backfill's runs read per minute since the sync last took it up (its start, or a resume after a pause or restart)
    /// to its last saved page; null when it is done or no page has been read since.
    /// </summary>
    public static double? RunsPerMinute(LangSmithProject project)
    {
        ArgumentNullException.ThrowIfNull(project);
        if (project.BackfillDone || project.BackfillResumedAt is not { } from || project.LastSyncAt is not { } to)
        {
            return null;
        }

        var runs = project.RunsSeen - project.BackfillRunsAtResume;
        var elapsed = to - from;
        return runs > 0 && elapsed > TimeSpan.Zero ? runs / elapsed.TotalMinutes : null;
    }

    /// <summary>Time left of a backfill at <paramref name="runsPerMinute"/> to LangSmith's estimate; null without a rate or an estimate.</summary>
    public static TimeSpan? TimeLeft(LangSmithProject project, double? runsPerMinute)
    {
        ArgumentNullException.ThrowIfNull(project);
        if (runsPerMinute is not > 0 || project.EstimatedRuns is not { } estimate)
        {
            return null;
        }

        var left = Math.Max(0, estimate - project.RunsSeen);
        return TimeSpan.FromSeconds(Math.Ceiling(left / runsPerMinute.Value * 60));
    }
}
