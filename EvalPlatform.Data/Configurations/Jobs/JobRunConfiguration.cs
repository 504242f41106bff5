using EvalPlatform.Core.Jobs;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace EvalPlatform.Data.Configurations.Jobs;

/// <summary>The job run log: platform data (no team, no query filter), one row per run, bounded by the purge job.</summary>
internal sealed class JobRunConfiguration : IEntityTypeConfiguration<JobRun>
{
    public void Configure(EntityTypeBuilder<JobRun> builder)
    {
        builder.ToTable("job_runs");
        builder.Property(r => r.JobKey).HasMaxLength(JobRunLog.MaxJobKey);
        builder.Property(r => r.Instance).HasMaxLength(JobRunLog.MaxInstance);
        builder.Property(r => r.Error).HasMaxLength(JobRunLog.MaxError);
        // Settings → Jobs: each job's newest run.
        builder.HasIndex(r => new { r.JobKey, r.StartedAt });
        // The purge: everything before a time.
        builder.HasIndex(r => r.StartedAt);
    }
}
