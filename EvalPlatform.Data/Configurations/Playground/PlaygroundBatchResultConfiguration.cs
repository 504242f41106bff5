using EvalPlatform.Core.Batches;
using EvalPlatform.Core.Playground;
using EvalPlatform.Core.Teams;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace EvalPlatform.Data.Configurations.Playground;

internal sealed class PlaygroundBatchResultConfiguration : IEntityTypeConfiguration<PlaygroundBatchResult>
{
    public void Configure(EntityTypeBuilder<PlaygroundBatchResult> builder)
    {
        builder.ToTable("playground_batch_results");
        builder.Property(r => r.Model).HasMaxLength(PlaygroundService.MaxModelLength);
        builder.Property(r => r.Text).HasMaxLength(PlaygroundService.MaxTextLength);
        builder.Property(r => r.Error).HasMaxLength(PlaygroundBatchHandler.MaxError);
        builder.Property(r => r.Cost).HasPrecision(18, 6);
        builder.HasOne<Team>().WithMany().HasForeignKey(r => r.TeamId).OnDelete(DeleteBehavior.Cascade);
        // The results go with their run; the original trace may go (retention) and the result stays, marked as without it.
        builder.HasOne<BatchRun>().WithMany().HasForeignKey(r => r.BatchRunId).OnDelete(DeleteBehavior.Cascade);
        // One result per run, trace position and configuration; also the comparison's paging order.
        builder.HasIndex(r => new { r.TeamId, r.BatchRunId, r.Position, r.Configuration }).IsUnique();
    }
}
