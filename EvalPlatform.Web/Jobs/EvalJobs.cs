namespace EvalPlatform.Web.Jobs;

/// <summary>
/// The job table: every background job of the platform, with its schedule. Adding a job is one line here (and its thin
/// class in this folder); <see cref="JobsServiceCollectionExtensions.AddEvalJobs(WebApplicationBuilder)"/> registers and schedules each row.
/// Keys are stable: they name the job in the run log and in Quartz's tables. For example, the hourly trends:
/// <c>JobDefinition.Of&lt;TrendsJob&gt;("trends", "Trends", "Recomputes each team's What changed report.", JobSchedule.Hourly())</c>.
/// </summary>
public static class EvalJobs
{
    public static IReadOnlyList<JobDefinition> All { get; } =
    [
        JobDefinition.Of<RollupJob>(
            RollupJob.Key, "Metrics rollup", "Recomputes the metric buckets that new traces, reviews and scores touched, for every team.", JobSchedule.EveryMinute),
        JobDefinition.Of<TrendsJob>(
            TrendsJob.Key, "Trends", "Recomputes every team's \"What changed\" findings for the last 7 days.", JobSchedule.Hourly(minute: 7)),
        JobDefinition.Of<AlertsJob>(
            AlertsJob.Key, "Alerts", "Evaluates every enabled alert rule of every team and notifies what fires or resolves.", JobSchedule.EveryMinute),
        JobDefinition.Of<AlertEvaluationPurgeJob>(
            AlertEvaluationPurgeJob.Key, "Alert evaluation retention", "Deletes alert evaluations older than 7 days.", JobSchedule.Daily(hour: 3, minute: 25)),
        JobDefinition.Of<DailyDigestJob>(
            DailyDigestJob.Key, "Daily digest", "Sends each team's digest of yesterday (its time zone) once its chosen time has passed: Slack and in-app.",
            JobSchedule.EveryMinutes(5)),
        JobDefinition.Of<ExperimentsJob>(
            ExperimentsJob.Key, "Experiments", "Analyses every running experiment and notifies a result that first becomes significant or a sample ratio mismatch.",
            JobSchedule.EveryMinutes(15)),
        JobDefinition.Of<IngestionIssuePurgeJob>(
            IngestionIssuePurgeJob.Key, "Ingestion log retention", "Deletes ingestion issue log rows older than 7 days.", JobSchedule.Hourly(minute: 5)),
        JobDefinition.Of<JobRunPurgeJob>(
            JobRunPurgeJob.Key, "Job run log retention", "Deletes job runs older than 14 days from this log.", JobSchedule.Daily(hour: 3, minute: 15)),
        JobDefinition.Of<NotificationDeliveryJob>(
            NotificationDeliveryJob.Key, "Notification delivery", "Sends due notifications (Slack, webhooks) and retries failed ones with backoff for up to 24 hours; only failed runs are logged here.",
            JobSchedule.EverySeconds(5), recordOnlyFailures: true),
        JobDefinition.Of<NotificationRetentionJob>(
            NotificationRetentionJob.Key, "Notification retention",
            "Deletes delivered notifications after 30 days, failed ones after 90, and in-app notifications read more than 90 days ago (Notifications:*RetentionDays).",
            JobSchedule.Daily(hour: 3, minute: 35)),
        JobDefinition.Of<LangSmithSyncJob>(
            LangSmithSyncJob.Key, "LangSmith sync", "Imports each due LangSmith connection's projects (backfill, then every N minutes) from their saved cursors.",
            JobSchedule.EveryMinute),
        JobDefinition.Of<TraceRetentionJob>(
            TraceRetentionJob.Key, "Trace retention",
            "Deletes each team's traces older than its retention setting (Settings → Team), with their spans, reviews, scores and queue items, in batches.",
            JobSchedule.Daily(hour: 2, minute: 45)),
        JobDefinition.Of<EvaluatorsJob>(
            EvaluatorsJob.Key, "Evaluators", "Each enabled LLM judge grades the new traces matching its filter (sampled), within its daily budget.",
            JobSchedule.EveryMinute),
        JobDefinition.Of<BatchRunRecoveryJob>(
            BatchRunRecoveryJob.Key, "Batch run recovery",
            "Schedules unfinished batch runs (evaluators, playground) that have no job, e.g. started on a node without jobs; each run itself is its own job.",
            JobSchedule.EveryMinute, recordOnlyFailures: true),
    ];
}
