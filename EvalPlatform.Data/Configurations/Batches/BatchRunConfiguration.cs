using EvalPlatform.Core.Batches;
using EvalPlatform.Core.Teams;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace EvalPlatform.Data.Configurations.Batches;

internal sealed class BatchRunConfiguration : IEntityTypeConfiguration<BatchRun>
{
    public void Configure(EntityTypeBuilder<BatchRun> builder)
    {
        builder.ToTable("batch_runs");
        builder.Property(r => r.Kind).HasMaxLength(50);
        builder.Property(r => r.Title).HasMaxLength(BatchRuns.MaxTitle);
        builder.Property(r => r.Status).HasConversion<string>().HasMaxLength(20);
        builder.Property(r => r.CreatedBy).HasMaxLength(200);
        builder.Property(r => r.LastError).HasMaxLength(BatchRunExecutor.MaxError);
        builder.Property(r => r.Cursor).HasMaxLength(2000);
        builder.Ignore(r => r.IsFinal);
        builder.HasOne<Team>().WithMany().HasForeignKey(r => r.TeamId).OnDelete(DeleteBehavior.Cascade);
        // A thing's runs, newest first (an evaluator's page), and the recovery sweep's unfinished runs.
        builder.HasIndex(r => new { r.TeamId, r.Kind, r.SubjectId, r.CreatedAt });
        builder.HasIndex(r => r.Status);
    }
}
