using EvalPlatform.Core.Ingestion;
using EvalPlatform.Core.Scores;
using EvalPlatform.Core.Traces;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace EvalPlatform.Data.Configurations.Traces;

internal sealed class ScoreConfiguration : IEntityTypeConfiguration<Score>
{
    public void Configure(EntityTypeBuilder<Score> builder)
    {
        builder.ToTable("scores");
        builder.Property(s => s.Name).HasMaxLength(IngestionLimits.MaxShortText);
        builder.Property(s => s.StringValue).HasMaxLength(IngestionLimits.MaxShortText);
        builder.Property(s => s.Author).HasMaxLength(IngestionLimits.MaxShortText);
        builder.Property(s => s.Comment).HasMaxLength(IngestionLimits.MaxErrorText);
        builder.HasOne<Trace>().WithMany().HasForeignKey(s => s.TraceId).OnDelete(DeleteBehavior.Cascade);
        // A trace's scores are read with the trace.
        builder.HasIndex(s => new { s.TeamId, s.TraceId });
    }
}
