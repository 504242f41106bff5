using EvalPlatform.Core.Analytics;
using EvalPlatform.Core.Ingestion;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace EvalPlatform.Data.Configurations.Analytics;

internal sealed class MetricRollupConfiguration : IEntityTypeConfiguration<MetricRollup>
{
    public void Configure(EntityTypeBuilder<MetricRollup> builder)
    {
        builder.ToTable("metric_rollups");
        // The key is the row's identity: team × interval × bucket × the five dimensions ("" for none). It leads with
        // the team, then interval and bucket, so the reader's "this team's hours from … to …" is one range scan.
        builder.HasKey(r => new { r.TeamId, r.Interval, r.Bucket, r.Model, r.Provider, r.Environment, r.Experiment, r.Variant });
        foreach (var p in new[] { nameof(MetricRollup.Model), nameof(MetricRollup.Provider), nameof(MetricRollup.Environment),
                     nameof(MetricRollup.Experiment), nameof(MetricRollup.Variant) })
        {
            builder.Property(p).HasMaxLength(IngestionLimits.MaxShortText);
        }

        builder.Property(r => r.Interval).HasConversion<short>();
        builder.Property(r => r.Cost).HasPrecision(28, 8);
        builder.Ignore(r => r.Dimensions);
    }
}

internal sealed class MetricDirtyMinuteConfiguration : IEntityTypeConfiguration<MetricDirtyMinute>
{
    public void Configure(EntityTypeBuilder<MetricDirtyMinute> builder)
    {
        builder.ToTable("metric_dirty_minutes");
        // The reader's "which of this team's minutes in the range are stale?".
        builder.HasIndex(m => new { m.TeamId, m.Minute });
    }
}

internal sealed class MetricRollupStateConfiguration : IEntityTypeConfiguration<MetricRollupState>
{
    public void Configure(EntityTypeBuilder<MetricRollupState> builder)
    {
        builder.ToTable("metric_rollup_state");
        builder.Property(s => s.Id).ValueGeneratedNever();
    }
}
