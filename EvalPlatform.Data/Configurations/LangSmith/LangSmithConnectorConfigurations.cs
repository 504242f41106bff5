using EvalPlatform.Core.LangSmith.Connector;
using EvalPlatform.Core.Teams;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace EvalPlatform.Data.Configurations.LangSmith;

internal sealed class LangSmithConnectionConfiguration : IEntityTypeConfiguration<LangSmithConnection>
{
    public void Configure(EntityTypeBuilder<LangSmithConnection> builder)
    {
        builder.ToTable("langsmith_connections");
        builder.Property(c => c.ApiUrl).HasMaxLength(2_000);
        builder.Property(c => c.ProtectedApiKey).HasMaxLength(4_000);
        builder.Property(c => c.KeyHint).HasMaxLength(8);
        builder.Property(c => c.WorkspaceId).HasMaxLength(36);
        builder.Property(c => c.FeedbackKey).HasMaxLength(100);
        builder.Property(c => c.CreatedBy).HasMaxLength(450);
        builder.Property(c => c.LastError).HasMaxLength(2_000);
        builder.HasOne<Team>().WithMany().HasForeignKey(c => c.TeamId).OnDelete(DeleteBehavior.Cascade);
        builder.HasIndex(c => new { c.TeamId, c.CreatedAt });
        // The sync job's look-up across teams: connections due, not paused.
        builder.HasIndex(c => c.NextSyncAt);
    }
}

internal sealed class LangSmithProjectConfiguration : IEntityTypeConfiguration<LangSmithProject>
{
    public void Configure(EntityTypeBuilder<LangSmithProject> builder)
    {
        builder.ToTable("langsmith_projects");
        builder.Property(p => p.Name).HasMaxLength(500);
        builder.Property(p => p.Cursor).HasMaxLength(4_000);
        builder.Property(p => p.LastError).HasMaxLength(2_000);
        builder.HasOne<Team>().WithMany().HasForeignKey(p => p.TeamId).OnDelete(DeleteBehavior.Cascade);
        builder.HasOne<LangSmithConnection>().WithMany().HasForeignKey(p => p.ConnectionId).OnDelete(DeleteBehavior.Cascade);
        // A project is imported once per connection.
        builder.HasIndex(p => new { p.TeamId, p.ConnectionId, p.ProjectId }).IsUnique();
    }
}

internal sealed class LangSmithImportIssueConfiguration : IEntityTypeConfiguration<LangSmithImportIssue>
{
    public void Configure(EntityTypeBuilder<LangSmithImportIssue> builder)
    {
        builder.ToTable("langsmith_import_issues");
        builder.Property(i => i.RunId).HasMaxLength(64);
        builder.Property(i => i.Reason).HasMaxLength(2_000);
        builder.HasOne<Team>().WithMany().HasForeignKey(i => i.TeamId).OnDelete(DeleteBehavior.Cascade);
        builder.HasOne<LangSmithConnection>().WithMany().HasForeignKey(i => i.ConnectionId).OnDelete(DeleteBehavior.Cascade);
        builder.HasIndex(i => new { i.TeamId, i.ConnectionId, i.Id });
    }
}

internal sealed class LangSmithFeedbackLinkConfiguration : IEntityTypeConfiguration<LangSmithFeedbackLink>
{
    public void Configure(EntityTypeBuilder<LangSmithFeedbackLink> builder)
    {
        builder.ToTable("langsmith_feedback");
        builder.Property(l => l.Key).HasMaxLength(100);
        builder.Property(l => l.RunId).HasMaxLength(64);
        builder.Property(l => l.Status).HasConversion<string>().HasMaxLength(12);
        builder.Property(l => l.LastError).HasMaxLength(1_000);
        builder.HasOne<Team>().WithMany().HasForeignKey(l => l.TeamId).OnDelete(DeleteBehavior.Cascade);
        builder.HasOne<LangSmithConnection>().WithMany().HasForeignKey(l => l.ConnectionId).OnDelete(DeleteBehavior.Cascade);
        builder.HasOne<Core.Traces.Trace>().WithMany().HasForeignKey(l => l.TraceId).OnDelete(DeleteBehavior.Cascade);
        // One feedback per trace, connection and key: a changed review updates it (ADR 45).
        builder.HasIndex(l => new { l.TeamId, l.TraceId, l.ConnectionId, l.Key }).IsUnique();
        // The status page's counts per connection and state.
        builder.HasIndex(l => new { l.TeamId, l.ConnectionId, l.Status });
    }
}
