using EvalPlatform.Core.Alerts;
using EvalPlatform.Core.Analytics;
using EvalPlatform.Core.Audit;
using EvalPlatform.Core.Digests;
using EvalPlatform.Core.Experiments;
using EvalPlatform.Core.Ingestion;
using EvalPlatform.Core.Jobs;
using EvalPlatform.Core.Notifications;
using EvalPlatform.Core.Providers;
using EvalPlatform.Core.Queues;
using EvalPlatform.Core.Reviews;
using EvalPlatform.Core.Scores;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Traces;
using EvalPlatform.Core.Webhooks;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;

namespace EvalPlatform.Core.Data;

/// <summary>
/// What Core sees of the database. Team-owned sets are already filtered to the current team;
/// a query across teams says so with <c>IgnoreQueryFilters()</c>.
/// </summary>
public interface IEvalDbContext : IAsyncDisposable, IDisposable
{
    DbSet<Team> Teams { get; }
    DbSet<TeamMember> TeamMembers { get; }
    DbSet<ApiKey> ApiKeys { get; }
    DbSet<Invitation> Invitations { get; }
    DbSet<Trace> Traces { get; }
    DbSet<Span> Spans { get; }
    DbSet<Score> Scores { get; }
    DbSet<ReviewSettings> ReviewSettings { get; }
    DbSet<RejectionReason> RejectionReasons { get; }
    DbSet<ReviewChange> ReviewChanges { get; }
    DbSet<ReviewQueue> ReviewQueues { get; }
    DbSet<ReviewQueueAssignee> ReviewQueueAssignees { get; }
    DbSet<QueueItem> QueueItems { get; }
    DbSet<QueueClaim> QueueClaims { get; }
    DbSet<QueueVerdict> QueueVerdicts { get; }
    DbSet<WebhookSecret> WebhookSecrets { get; }
    DbSet<IngestionIssue> IngestionIssues { get; }
    DbSet<MetricRollup> MetricRollups { get; }
    DbSet<MetricDirtyMinute> MetricDirtyMinutes { get; }
    DbSet<MetricRollupState> MetricRollupStates { get; }
    DbSet<NotificationChannel> NotificationChannels { get; }
    DbSet<NotificationDelivery> NotificationDeliveries { get; }
    DbSet<InAppNotification> InAppNotifications { get; }
    DbSet<NotificationPreference> NotificationPreferences { get; }
    DbSet<AlertRule> AlertRules { get; }
    DbSet<AlertState> AlertStates { get; }
    DbSet<AlertEvaluation> AlertEvaluations { get; }
    DbSet<AlertEvent> AlertEvents { get; }
    DbSet<TeamDigest> TeamDigests { get; }
    DbSet<Experiment> Experiments { get; }
    DbSet<ExperimentChange> ExperimentChanges { get; }
    DbSet<ExperimentAssignment> ExperimentAssignments { get; }
    DbSet<ProviderConnection> ProviderConnections { get; }
    DbSet<ProviderCall> ProviderCalls { get; }
    DbSet<ProviderModelPrice> ProviderModelPrices { get; }
    DbSet<Providers.Proxy.ProviderBudget> ProviderBudgets { get; }
    DbSet<Providers.Proxy.ProxyCassette> ProxyCassettes { get; }
    DbSet<LangSmith.Connector.LangSmithConnection> LangSmithConnections { get; }
    DbSet<LangSmith.Connector.LangSmithProject> LangSmithProjects { get; }
    DbSet<LangSmith.Connector.LangSmithImportIssue> LangSmithImportIssues { get; }
    DbSet<LangSmith.Connector.LangSmithFeedbackLink> LangSmithFeedbackLinks { get; }
    DbSet<Batches.BatchRun> BatchRuns { get; }
    DbSet<Evaluators.Evaluator> Evaluators { get; }
    DbSet<Playground.PlaygroundBatchResult> PlaygroundBatchResults { get; }
    DbSet<Traces.Views.SavedView> SavedViews { get; }
    DbSet<Traces.Views.TraceListLayout> TraceListLayouts { get; }

    /// <summary>Append-only: the context refuses to change or delete an entry.</summary>
    DbSet<AuditEntry> AuditEntries { get; }

    /// <summary>The job run log: platform data, not team-owned (no filter).</summary>
    DbSet<JobRun> JobRuns { get; }

    /// <summary>For the few operations that need an explicit transaction (a queue verdict with its claim and slot).</summary>
    DatabaseFacade Database { get; }

    Task<int> SaveChangesAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Lets this context save team-owned rows of teams other than the current one (see <see cref="Tenancy.CrossTeamWriteException"/>):
    /// only for the few writers that cross teams by nature (jobs over all teams, the ingestion group commit, team creation,
    /// set-up, invitation acceptance, the audit log's appender, the operator's commands). Greppable on purpose; ADR 38.
    /// </summary>
    void AllowCrossTeamWrites();
}

/// <summary>Creates one short-lived <see cref="IEvalDbContext"/> per operation (never one per circuit).</summary>
public interface IEvalDbContextFactory
{
    Task<IEvalDbContext> CreateAsync(CancellationToken cancellationToken = default);
}
