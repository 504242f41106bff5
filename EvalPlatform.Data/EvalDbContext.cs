using System.Linq.Expressions;
using EvalPlatform.Core.Alerts;
using EvalPlatform.Core.Analytics;
using EvalPlatform.Core.Audit;
using EvalPlatform.Core.Data;
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
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Core.Webhooks;
using EvalPlatform.Data.Identity;
using Microsoft.AspNetCore.DataProtection.EntityFrameworkCore;
using Microsoft.AspNetCore.Identity.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;

namespace EvalPlatform.Data;

/// <summary>
/// The one model, shared by both providers. <see cref="Postgres.PostgresEvalDbContext"/> and
/// <see cref="Sqlite.SqliteEvalDbContext"/> only exist so each provider has its own migrations.
/// Every <see cref="ITeamOwned"/> entity is filtered to <see cref="CurrentTeamId"/>.
/// </summary>
public abstract class EvalDbContext : IdentityDbContext<ApplicationUser>, IEvalDbContext, IDataProtectionKeyContext
{
    private readonly ITeamContext? _team;
    private bool _crossTeamWrites;

    protected EvalDbContext(DbContextOptions options, ITeamContext? team) : base(options)
    {
        _team = team;
    }

    public DbSet<Team> Teams => Set<Team>();
    public DbSet<TeamMember> TeamMembers => Set<TeamMember>();
    public DbSet<ApiKey> ApiKeys => Set<ApiKey>();
    public DbSet<Invitation> Invitations => Set<Invitation>();
    public DbSet<Trace> Traces => Set<Trace>();
    public DbSet<Span> Spans => Set<Span>();
    public DbSet<Score> Scores => Set<Score>();
    public DbSet<ReviewSettings> ReviewSettings => Set<ReviewSettings>();
    public DbSet<RejectionReason> RejectionReasons => Set<RejectionReason>();
    public DbSet<ReviewChange> ReviewChanges => Set<ReviewChange>();
    public DbSet<ReviewQueue> ReviewQueues => Set<ReviewQueue>();
    public DbSet<ReviewQueueAssignee> ReviewQueueAssignees => Set<ReviewQueueAssignee>();
    public DbSet<QueueItem> QueueItems => Set<QueueItem>();
    public DbSet<QueueClaim> QueueClaims => Set<QueueClaim>();
    public DbSet<QueueVerdict> QueueVerdicts => Set<QueueVerdict>();
    public DbSet<WebhookSecret> WebhookSecrets => Set<WebhookSecret>();
    public DbSet<IngestionIssue> IngestionIssues => Set<IngestionIssue>();
    public DbSet<JobRun> JobRuns => Set<JobRun>();
    public DbSet<MetricRollup> MetricRollups => Set<MetricRollup>();
    public DbSet<MetricDirtyMinute> MetricDirtyMinutes => Set<MetricDirtyMinute>();
    public DbSet<MetricRollupState> MetricRollupStates => Set<MetricRollupState>();
    public DbSet<NotificationChannel> NotificationChannels => Set<NotificationChannel>();
    public DbSet<NotificationDelivery> NotificationDeliveries => Set<NotificationDelivery>();
    public DbSet<InAppNotification> InAppNotifications => Set<InAppNotification>();
    public DbSet<NotificationPreference> NotificationPreferences => Set<NotificationPreference>();
    public DbSet<AlertRule> AlertRules => Set<AlertRule>();
    public DbSet<AlertState> AlertStates => Set<AlertState>();
    public DbSet<AlertEvaluation> AlertEvaluations => Set<AlertEvaluation>();
    public DbSet<AlertEvent> AlertEvents => Set<AlertEvent>();
    public DbSet<TeamDigest> TeamDigests => Set<TeamDigest>();
    public DbSet<Experiment> Experiments => Set<Experiment>();
    public DbSet<ExperimentChange> ExperimentChanges => Set<ExperimentChange>();
    public DbSet<ExperimentAssignment> ExperimentAssignments => Set<ExperimentAssignment>();
    public DbSet<AuditEntry> AuditEntries => Set<AuditEntry>();
    public DbSet<ProviderConnection> ProviderConnections => Set<ProviderConnection>();
    public DbSet<Core.LangSmith.Connector.LangSmithConnection> LangSmithConnections => Set<Core.LangSmith.Connector.LangSmithConnection>();
    public DbSet<Core.LangSmith.Connector.LangSmithProject> LangSmithProjects => Set<Core.LangSmith.Connector.LangSmithProject>();
    public DbSet<Core.LangSmith.Connector.LangSmithImportIssue> LangSmithImportIssues => Set<Core.LangSmith.Connector.LangSmithImportIssue>();
    public DbSet<Core.LangSmith.Connector.LangSmithFeedbackLink> LangSmithFeedbackLinks => Set<Core.LangSmith.Connector.LangSmithFeedbackLink>();
    public DbSet<ProviderCall> ProviderCalls => Set<ProviderCall>();
    public DbSet<ProviderModelPrice> ProviderModelPrices => Set<ProviderModelPrice>();
    public DbSet<Core.Providers.Proxy.ProviderBudget> ProviderBudgets => Set<Core.Providers.Proxy.ProviderBudget>();
    public DbSet<Core.Providers.Proxy.ProxyCassette> ProxyCassettes => Set<Core.Providers.Proxy.ProxyCassette>();
    public DbSet<Core.Batches.BatchRun> BatchRuns => Set<Core.Batches.BatchRun>();
    public DbSet<Core.Evaluators.Evaluator> Evaluators => Set<Core.Evaluators.Evaluator>();
    public DbSet<Core.Playground.PlaygroundBatchResult> PlaygroundBatchResults => Set<Core.Playground.PlaygroundBatchResult>();
    public DbSet<Core.Traces.Views.SavedView> SavedViews => Set<Core.Traces.Views.SavedView>();
    public DbSet<Core.Traces.Views.TraceListLayout> TraceListLayouts => Set<Core.Traces.Views.TraceListLayout>();
    public DbSet<DataProtectionKey> DataProtectionKeys => Set<DataProtectionKey>();

    /// <summary>
    /// Read by the query filters at each query (EF parameterises context members). With no team
    /// set it is <see cref="Guid.Empty"/>, which no row has: an unscoped context sees nothing.
    /// </summary>
    internal Guid CurrentTeamId => _team?.TeamId ?? Guid.Empty;

    protected override void OnModelCreating(ModelBuilder builder)
    {
        base.OnModelCreating(builder);
        builder.ApplyConfigurationsFromAssembly(typeof(EvalDbContext).Assembly);

        foreach (var entity in builder.Model.GetEntityTypes().Where(e => typeof(ITeamOwned).IsAssignableFrom(e.ClrType)))
        {
            builder.Entity(entity.ClrType).HasQueryFilter(TeamFilter(entity.ClrType));
        }
    }

    /// <inheritdoc />
    public void AllowCrossTeamWrites() => _crossTeamWrites = true;

    public override int SaveChanges(bool acceptAllChangesOnSuccess)
    {
        RefuseAuditRewrites();
        RefuseCrossTeamWrites();
        return base.SaveChanges(acceptAllChangesOnSuccess);
    }

    public override Task<int> SaveChangesAsync(bool acceptAllChangesOnSuccess, CancellationToken cancellationToken = default)
    {
        RefuseAuditRewrites();
        RefuseCrossTeamWrites();
        return base.SaveChangesAsync(acceptAllChangesOnSuccess, cancellationToken);
    }

    // The audit log is append-only (ADR 0034): an entry is added, never changed or removed, whoever asks.
    private void RefuseAuditRewrites()
    {
        if (ChangeTracker.Entries<AuditEntry>().Any(e => e.State is EntityState.Modified or EntityState.Deleted))
        {
            throw new InvalidOperationException("Audit log entries are append-only: they cannot be changed or deleted.");
        }
    }

    // Writes are guarded like reads (ADR 0038): a team-owned row is added, changed or deleted only for the current team,
    // before and after the change (a row cannot be moved to another team either), unless this context was told otherwise.
    // ExecuteUpdate/ExecuteDelete do not pass here; they go through the query filter like any query.
    private void RefuseCrossTeamWrites()
    {
        if (_crossTeamWrites)
        {
            return;
        }

        var current = _team?.TeamId;
        foreach (var entry in ChangeTracker.Entries<ITeamOwned>())
        {
            if (entry.State is not (EntityState.Added or EntityState.Modified or EntityState.Deleted))
            {
                continue;
            }

            var teamId = entry.Entity.TeamId;
            var before = entry.State == EntityState.Added ? teamId : entry.OriginalValues.GetValue<Guid>(nameof(ITeamOwned.TeamId));
            if (current is not { } id || teamId != id || before != id)
            {
                throw new CrossTeamWriteException(entry.Metadata.ClrType.Name, teamId != current ? teamId : before, current);
            }
        }
    }

    private LambdaExpression TeamFilter(Type entityType)
    {
        // e => e.TeamId == this.CurrentTeamId
        var e = Expression.Parameter(entityType, "e");
        var body = Expression.Equal(
            Expression.Property(e, nameof(ITeamOwned.TeamId)),
            Expression.Property(Expression.Constant(this), nameof(CurrentTeamId)));
        return Expression.Lambda(body, e);
    }
}
