using EvalPlatform.Core.Alerts;
using EvalPlatform.Core.Ingestion;
using EvalPlatform.Core.Teams;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace EvalPlatform.Data.Configurations.Alerts;

internal sealed class AlertRuleConfiguration : IEntityTypeConfiguration<AlertRule>
{
    public void Configure(EntityTypeBuilder<AlertRule> builder)
    {
        builder.ToTable("alert_rules");
        builder.Property(r => r.Name).HasMaxLength(AlertService.MaxNameLength);
        builder.Property(r => r.Metric).HasConversion<string>().HasMaxLength(40);
        builder.Property(r => r.MetricKey).HasMaxLength(IngestionLimits.MaxShortText);
        builder.Property(r => r.FiltersJson).HasMaxLength(4_000);
        builder.Property(r => r.ConditionOp).HasConversion<string>().HasMaxLength(20);
        builder.Property(r => r.GroupBy).HasConversion<string>().HasMaxLength(20);
        builder.Property(r => r.Severity).HasConversion<string>().HasMaxLength(20);
        builder.Property(r => r.CreatedBy).HasMaxLength(450);
        builder.Ignore(r => r.Filters);
        builder.HasOne<Team>().WithMany().HasForeignKey(r => r.TeamId).OnDelete(DeleteBehavior.Cascade);
        builder.HasIndex(r => new { r.TeamId, r.Name });
    }
}

internal sealed class AlertStateConfiguration : IEntityTypeConfiguration<AlertState>
{
    public void Configure(EntityTypeBuilder<AlertState> builder)
    {
        builder.ToTable("alert_states");
        // One alert per rule and group; the rule leads, so "a rule's groups" is a range scan.
        builder.HasKey(s => new { s.RuleId, s.GroupKey });
        builder.Property(s => s.GroupKey).HasMaxLength(IngestionLimits.MaxShortText);
        builder.Property(s => s.Status).HasConversion<string>().HasMaxLength(20);
        builder.Property(s => s.AcknowledgedBy).HasMaxLength(256);
        builder.HasOne<AlertRule>().WithMany().HasForeignKey(s => s.RuleId).OnDelete(DeleteBehavior.Cascade);
        builder.HasIndex(s => new { s.TeamId, s.Status });
    }
}

internal sealed class AlertEvaluationConfiguration : IEntityTypeConfiguration<AlertEvaluation>
{
    public void Configure(EntityTypeBuilder<AlertEvaluation> builder)
    {
        builder.ToTable("alert_evaluations");
        builder.Property(e => e.GroupKey).HasMaxLength(IngestionLimits.MaxShortText);
        builder.Property(e => e.Decision).HasConversion<string>().HasMaxLength(20);
        builder.Property(e => e.Status).HasConversion<string>().HasMaxLength(20);
        builder.HasOne<AlertRule>().WithMany().HasForeignKey(e => e.RuleId).OnDelete(DeleteBehavior.Cascade);
        // A rule's page: its last week, newest first.
        builder.HasIndex(e => new { e.TeamId, e.RuleId, e.EvaluatedAt });
        // The daily purge across teams, by age.
        builder.HasIndex(e => e.EvaluatedAt);
    }
}

internal sealed class AlertEventConfiguration : IEntityTypeConfiguration<AlertEvent>
{
    public void Configure(EntityTypeBuilder<AlertEvent> builder)
    {
        builder.ToTable("alert_events");
        builder.Property(e => e.RuleName).HasMaxLength(AlertService.MaxNameLength);
        builder.Property(e => e.GroupKey).HasMaxLength(IngestionLimits.MaxShortText);
        builder.Property(e => e.FromStatus).HasConversion<string>().HasMaxLength(20);
        builder.Property(e => e.ToStatus).HasConversion<string>().HasMaxLength(20);
        builder.Property(e => e.Message).HasMaxLength(2_000);
        builder.Property(e => e.Actor).HasMaxLength(256);
        builder.HasOne<AlertRule>().WithMany().HasForeignKey(e => e.RuleId).OnDelete(DeleteBehavior.Cascade);
        // The team's events newest first, and a rule's.
        builder.HasIndex(e => new { e.TeamId, e.At });
        builder.HasIndex(e => new { e.TeamId, e.RuleId, e.At });
    }
}
