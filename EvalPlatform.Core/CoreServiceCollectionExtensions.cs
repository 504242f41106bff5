using EvalPlatform.Core.Alerts;
using EvalPlatform.Core.Analytics;
using EvalPlatform.Core.Assembly;
using EvalPlatform.Core.Audit;
using EvalPlatform.Core.Digests;
using EvalPlatform.Core.Experiments;
using EvalPlatform.Core.Experiments.Statistics;
using EvalPlatform.Core.Ingestion;
using EvalPlatform.Core.Jobs;
using EvalPlatform.Core.LangSmith;
using EvalPlatform.Core.Live;
using EvalPlatform.Core.Notifications;
using EvalPlatform.Core.Outbound;
using EvalPlatform.Core.Otlp;
using EvalPlatform.Core.Providers;
using EvalPlatform.Core.Queues;
using EvalPlatform.Core.Reviews;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Core.Traces;
using EvalPlatform.Core.Webhooks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace EvalPlatform.Core;

public static class CoreServiceCollectionExtensions
{
    /// <summary>Registers the domain services; one line per feature.</summary>
    public static IServiceCollection AddEvalCore(this IServiceCollection services)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.AddScoped<TeamContext>();
        services.AddScoped<ITeamContext>(sp => sp.GetRequiredService<TeamContext>());
        services.AddScoped<AuditLog>();
        services.AddTeams();
        services.AddTraces();
        services.AddReviews();
        services.AddWebhooks();
        services.AddLangSmith();
        services.AddIngestionIssues();
        services.AddJobs();
        services.AddAnalytics();
        services.AddTrends();
        services.AddNotifications();
        services.AddAlerts();
        services.AddExperiments();
        services.AddExperimentStatistics();
        services.AddDigests();
        services.AddProviders();
        services.AddRetention();
        services.AddPlayground();
        services.AddBatches();
        services.AddEvaluators();
        return services;
    }

    /// <summary>
    /// The playground (ADR 40): prompts run side by side with the team's connections, results saved as traces; and its batches
    /// over a queue or a filter (ADR 44), a batch-run handler. The trace reader (<see cref="Playground.IPlaygroundTraceValues"/>) comes from Web.
    /// </summary>
    private static IServiceCollection AddPlayground(this IServiceCollection services)
    {
        services.AddScoped<Playground.PlaygroundService>();
        services.AddScoped<Playground.PlaygroundBatchService>();
        services.AddScoped<Batches.IBatchRunHandler, Playground.PlaygroundBatchHandler>();
        return services;
    }

    /// <summary>
    /// LLM judges (ADR 39): the team-scoped service, one judgement (scoped: it calls with the scope's team), the batch-run
    /// handler and the runner across teams (the <c>evaluators</c> minute job's call). The trace renderer (<see cref="Evaluators.IJudgeInputs"/>) comes from Web.
    /// </summary>
    private static IServiceCollection AddEvaluators(this IServiceCollection services)
    {
        services.AddScoped<Evaluators.EvaluatorService>();
        services.AddScoped<Palette.PaletteQueries>();
        services.AddScoped<GettingStarted.GettingStartedQueries>();
        services.AddScoped<Evaluators.EvaluatorJudge>();
        services.AddScoped<Batches.IBatchRunHandler, Evaluators.EvaluatorBatchHandler>();
        services.AddSingleton<Evaluators.EvaluatorRunner>();
        return services;
    }

    /// <summary>
    /// Batch runs (ADR 39): the team-scoped service and the executor the <c>batch-run</c> job calls. Features add their
    /// <see cref="Batches.IBatchRunHandler"/>; Web replaces the scheduler with Quartz's where jobs are enabled.
    /// </summary>
    private static IServiceCollection AddBatches(this IServiceCollection services)
    {
        services.AddScoped<Batches.BatchRuns>();
        services.AddSingleton<Batches.BatchRunExecutor>();
        services.TryAddSingleton<Batches.IBatchRunScheduler, Batches.DisabledBatchRunScheduler>();
        return services;
    }

    /// <summary>Trace retention per team (ADR 37): the setting, and the purge the nightly job runs for every team.</summary>
    private static IServiceCollection AddRetention(this IServiceCollection services)
    {
        services.AddOptions<Retention.RetentionOptions>();
        services.AddScoped<Retention.RetentionService>();
        services.AddSingleton<Retention.TracePurge>();
        return services;
    }

    /// <summary>
    /// Provider connections (ADR 29): the team's connections decrypted for a call, the usage every call leaves, and
    /// their management. The key protector comes from Data; the chat clients (<see cref="ILlmChat"/>) from Web.
    /// </summary>
    private static IServiceCollection AddProviders(this IServiceCollection services)
    {
        services.AddScoped<IProviderConnections, ProviderConnections>();
        services.AddScoped<IProviderUsage, ProviderUsage>();
        services.AddScoped<ProviderPrices>();
        services.AddScoped<ProviderService>();
        return services;
    }

    /// <summary>
    /// Notifications (ADR 22): the outbox (scoped: it adds to the scope's unit of work), the channels, the deliverer the
    /// delivery job calls, in-app notifications, and the SSRF guard every outbound call goes through. The senders (Slack,
    /// webhooks) and the job come from Web; the secret protector from Data.
    /// </summary>
    private static IServiceCollection AddNotifications(this IServiceCollection services)
    {
        services.AddOptions<OutboundOptions>();
        services.AddOptions<NotificationOptions>();
        services.AddSingleton<OutboundGuard>();
        services.AddSingleton<TraceCreatedSubscribers>();
        services.AddScoped<NotificationOutbox>();
        services.AddScoped<INotificationOutbox>(sp => sp.GetRequiredService<NotificationOutbox>());
        services.AddScoped<NotificationDeliverer>();
        services.AddScoped<NotificationChannelService>();
        services.AddScoped<InAppNotificationService>();
        services.AddScoped<MemberEmailService>();
        services.AddOptions<Email.SmtpOptions>();
        services.AddScoped<NotificationRetention>();
        return services;
    }

    /// <summary>The experiments' statistics (ADR 28): pure, so one instance serves every request.</summary>
    private static IServiceCollection AddExperimentStatistics(this IServiceCollection services)
    {
        services.AddSingleton<IExperimentStatistics, ExperimentStatistics>();
        return services;
    }

    /// <summary>
    /// Alert rules (ADR 23): the team-scoped service, one rule's evaluation (scoped: it writes through the scope's
    /// <c>IEvalDbContext</c>, where the notification outbox adds its rows) and the runner across teams (the minute job's call).
    /// </summary>
    private static IServiceCollection AddAlerts(this IServiceCollection services)
    {
        services.AddScoped<AlertService>();
        services.AddScoped<AlertRuleEvaluation>();
        services.AddSingleton<AlertRunner>();
        return services;
    }

    /// <summary>
    /// The daily digest (ADR 24): the team-scoped settings and preview, one day's digest (scoped: it reads as the team in
    /// context) and the runner across teams (the <c>daily-digest</c> job's call).
    /// </summary>
    private static IServiceCollection AddDigests(this IServiceCollection services)
    {
        services.AddScoped<DigestBuilder>();
        services.AddScoped<DigestService>();
        services.AddSingleton<DigestRunner>();
        return services;
    }

    /// <summary>
    /// Experiments (ADR 27): the team-scoped management, assignment (the one door for the assign endpoint and the LLM proxy)
    /// and results; one experiment's analysis (scoped: it writes through the scope's <c>IEvalDbContext</c>, with the outbox)
    /// and the runner across teams (the 15-minute job's call). The statistics (<see cref="IExperimentStatistics"/>) are registered beside them.
    /// </summary>
    private static IServiceCollection AddExperiments(this IServiceCollection services)
    {
        services.AddScoped<ExperimentService>();
        services.AddScoped<ExperimentAssignments>();
        services.AddScoped<ExperimentResults>();
        services.AddScoped<ExperimentAnalysis>();
        services.AddSingleton<ExperimentAnalysisRunner>();
        return services;
    }

    /// <summary>
    /// Trend findings: computed on demand per team, the default report cached in the app's HybridCache (registered by
    /// Web) and refreshed for every team by the hourly trends job through <see cref="TrendRefresher"/>.
    /// </summary>
    private static IServiceCollection AddTrends(this IServiceCollection services)
    {
        services.AddScoped<TrendService>();
        services.AddSingleton<TrendRefresher>();
        return services;
    }

    /// <summary>
    /// The ingestion issue log: one buffer per node (singleton) that ingestion counts into, and the team-scoped reads.
    /// Its store comes from Data; its background writer (flush each second, retention each hour) from Web.
    /// </summary>
    private static IServiceCollection AddIngestionIssues(this IServiceCollection services)
    {
        services.AddSingleton<IngestionIssueLog>();
        services.AddSingleton<IIngestionIssueLog>(sp => sp.GetRequiredService<IngestionIssueLog>());
        services.AddScoped<IngestionIssueQueries>();
        return services;
    }

    /// <summary>The job run log and the people's door to the jobs; the runtime (<see cref="IJobRunner"/>, Quartz) comes from Web.</summary>
    private static IServiceCollection AddJobs(this IServiceCollection services)
    {
        services.AddScoped<JobRunLog>();
        services.AddScoped<JobService>();
        return services;
    }

    /// <summary>
    /// Metrics (ADR 17): the team-scoped service and the rollup (across teams; the minute job's one call). The reader and
    /// the raw-trace reads come from Data, per database.
    /// </summary>
    private static IServiceCollection AddAnalytics(this IServiceCollection services)
    {
        services.AddOptions<AnalyticsOptions>();
        services.AddScoped<AnalyticsService>();
        services.AddScoped<IMetricsRollup, MetricsRollup>();
        return services;
    }

    /// <summary>Webhook secrets and their checks; the secret protector comes from Data (Data Protection).</summary>
    private static IServiceCollection AddWebhooks(this IServiceCollection services)
    {
        services.AddScoped<WebhookSecretService>();
        services.AddScoped<WebhookAuthenticator>();
        // Replaced by the Redis one where Redis is configured (Web).
        services.AddSingleton<IWebhookReplayGuard, InProcessWebhookReplayGuard>();
        return services;
    }

    private static IServiceCollection AddLangSmith(this IServiceCollection services)
    {
        services.AddScoped<LangSmithIngestion>();
        services.AddScoped<LangSmith.Connector.LangSmithConnections>();
        services.AddScoped<LangSmith.Connector.LangSmithImporter>();
        services.AddScoped<LangSmith.Connector.LangSmithSync>();
        services.AddSingleton<LangSmith.Connector.LangSmithFeedback>();
        services.AddScoped<LangSmith.Connector.LangSmithReconciliations>();
        return services;
    }

    private static IServiceCollection AddReviews(this IServiceCollection services)
    {
        services.AddScoped<ReviewService>();
        services.AddScoped<ReviewSettingsService>();
        services.AddOptions<ReviewQueueOptions>();
        services.AddScoped<QueueService>();
        return services;
    }

    private static IServiceCollection AddTraces(this IServiceCollection services)
    {
        services.AddOptions<IngestionOptions>();
        services.AddSingleton<IngestionQueue>();
        // The host registers IMeterFactory; a bare service collection (some tests) gets meters of its own.
        services.AddSingleton(sp => new Observability.EvalMetrics(
            sp.GetService<System.Diagnostics.Metrics.IMeterFactory>() ?? new Observability.EvalMetrics.OwnMeters()));
        services.AddScoped<TraceIngestionService>();
        services.AddScoped<Providers.Proxy.ProxyRecorder>();
        services.AddScoped<Providers.Proxy.ProviderBudgets>();
        services.AddScoped<Providers.Proxy.ProxyCassettes>();
        services.AddScoped<TraceQueries>();
        services.AddScoped<Traces.Views.SavedViewService>();
        services.AddScoped<TraceUpdates>();
        services.AddScoped<TraceAssembler>();
        services.AddScoped<OtlpTraceImporter>();
        services.AddSingleton<LiveDispatcher>();
        services.AddSingleton<ApiKeyCache>();
        services.AddOptions<Caching.SettingsCacheOptions>();
        services.AddSingleton<Caching.SettingsCache>();
        services.TryAddSingleton<ILiveBus, InProcessLiveBus>();
        return services;
    }

    private static IServiceCollection AddTeams(this IServiceCollection services)
    {
        services.AddScoped<TeamService>();
        services.AddScoped<ApiKeyService>();
        services.AddScoped<MemberService>();
        services.AddScoped<InvitationService>();
        services.AddScoped<ApiKeyAuthenticator>();
        services.AddSingleton<IngestionOriginCache>();
        services.AddScoped<IngestionOriginService>();
        services.AddOptions<IngestionCorsOptions>();
        return services;
    }
}
