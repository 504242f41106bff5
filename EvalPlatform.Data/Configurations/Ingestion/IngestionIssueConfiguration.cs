using EvalPlatform.Core.Ingestion;
using EvalPlatform.Core.Teams;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace EvalPlatform.Data.Configurations.Ingestion;

internal sealed class IngestionIssueConfiguration : IEntityTypeConfiguration<IngestionIssue>
{
    public void Configure(EntityTypeBuilder<IngestionIssue> builder)
    {
        builder.ToTable("ingestion_issues");
        builder.Property(i => i.Field).HasMaxLength(IngestionIssueLimits.MaxField);
        builder.Property(i => i.Reason).HasMaxLength(IngestionIssueLimits.MaxReason);
        builder.Property(i => i.TraceKey).HasMaxLength(IngestionLimits.MaxShortText);
        builder.Property(i => i.SpanKey).HasMaxLength(IngestionLimits.MaxShortText);
        builder.Property(i => i.GroupKey).HasMaxLength(64);
        builder.HasOne<Team>().WithMany().HasForeignKey(i => i.TeamId).OnDelete(DeleteBehavior.Cascade);
        // The writer's upsert target: one row per issue per team per hour, whichever node counts it.
        builder.HasIndex(i => new { i.TeamId, i.Hour, i.GroupKey }).IsUnique();
        // The log page and API: a team's newest first.
        builder.HasIndex(i => new { i.TeamId, i.LastSeenAt });
        // "Why is my trace missing?": a team's issues of one client trace id.
        builder.HasIndex(i => new { i.TeamId, i.TraceKey }).HasFilter("\"TraceKey\" IS NOT NULL");
    }
}
