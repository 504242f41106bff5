using EvalPlatform.Core.Experiments;
using EvalPlatform.Core.Teams;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace EvalPlatform.Data.Configurations.Experiments;

internal sealed class ExperimentConfiguration : IEntityTypeConfiguration<Experiment>
{
    public void Configure(EntityTypeBuilder<Experiment> builder)
    {
        builder.ToTable("experiments");
        builder.Property(e => e.Key).HasMaxLength(ExperimentService.MaxKeyLength);
        builder.Property(e => e.Name).HasMaxLength(ExperimentService.MaxNameLength);
        builder.Property(e => e.Hypothesis).HasMaxLength(ExperimentService.MaxHypothesisLength);
        builder.Property(e => e.Unit).HasConversion<string>().HasMaxLength(20);
        builder.Property(e => e.Status).HasConversion<string>().HasMaxLength(20);
        builder.Property(e => e.Decision).HasConversion<string>().HasMaxLength(20);
        builder.Property(e => e.PrimaryMetric).HasMaxLength(220);
        builder.Property(e => e.ShippedVariant).HasMaxLength(ExperimentService.MaxKeyLength);
        builder.Property(e => e.DecisionNote).HasMaxLength(ExperimentService.MaxNoteLength);
        builder.Property(e => e.CreatedBy).HasMaxLength(450);
        builder.Property(e => e.Version).IsConcurrencyToken();
        builder.Ignore(e => e.Variants);
        builder.Ignore(e => e.Filters);
        builder.Ignore(e => e.Guardrails);
        builder.Ignore(e => e.Primary);
        builder.HasOne<Team>().WithMany().HasForeignKey(e => e.TeamId).OnDelete(DeleteBehavior.Cascade);
        // The key is the API's handle and the hash's seed: unique per team.
        builder.HasIndex(e => new { e.TeamId, e.Key }).IsUnique();
        // The analysis job's scan of running experiments across teams.
        builder.HasIndex(e => e.Status);
    }
}

internal sealed class ExperimentChangeConfiguration : IEntityTypeConfiguration<ExperimentChange>
{
    public void Configure(EntityTypeBuilder<ExperimentChange> builder)
    {
        builder.ToTable("experiment_changes");
        builder.Property(c => c.Actor).HasMaxLength(256);
        builder.Property(c => c.Action).HasMaxLength(20);
        builder.Property(c => c.Detail).HasMaxLength(4_000);
        builder.HasOne<Experiment>().WithMany().HasForeignKey(c => c.ExperimentId).OnDelete(DeleteBehavior.Cascade);
        // An experiment's history, newest first.
        builder.HasIndex(c => new { c.TeamId, c.ExperimentId, c.Sequence });
    }
}

internal sealed class ExperimentAssignmentConfiguration : IEntityTypeConfiguration<ExperimentAssignment>
{
    public void Configure(EntityTypeBuilder<ExperimentAssignment> builder)
    {
        builder.ToTable("experiment_assignments");
        // One stored assignment per experiment and unit: concurrent first assignments insert, one wins, all read it.
        builder.HasKey(a => new { a.ExperimentId, a.UnitId });
        builder.Property(a => a.UnitId).HasMaxLength(ExperimentAssignments.MaxUnitIdLength);
        builder.Property(a => a.Variant).HasMaxLength(ExperimentService.MaxKeyLength);
        builder.HasOne<Experiment>().WithMany().HasForeignKey(a => a.ExperimentId).OnDelete(DeleteBehavior.Cascade);
        builder.HasIndex(a => new { a.TeamId, a.ExperimentId, a.Variant });
    }
}
