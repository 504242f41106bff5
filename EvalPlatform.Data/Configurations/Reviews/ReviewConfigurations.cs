using EvalPlatform.Core.Reviews;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Traces;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace EvalPlatform.Data.Configurations.Reviews;

internal sealed class ReviewSettingsConfiguration : IEntityTypeConfiguration<ReviewSettings>
{
    public void Configure(EntityTypeBuilder<ReviewSettings> builder)
    {
        builder.ToTable("review_settings");
        // One row per team: the key is the team, so two first reads cannot both seed it.
        builder.HasKey(s => s.TeamId);
        builder.HasOne<Team>().WithOne().HasForeignKey<ReviewSettings>(s => s.TeamId).OnDelete(DeleteBehavior.Cascade);
    }
}

internal sealed class RejectionReasonConfiguration : IEntityTypeConfiguration<RejectionReason>
{
    public void Configure(EntityTypeBuilder<RejectionReason> builder)
    {
        builder.ToTable("rejection_reasons");
        builder.Property(r => r.Key).HasMaxLength(200);
        builder.Property(r => r.Label).HasMaxLength(ReviewSettingsService.MaxLabelLength);
        builder.Property(r => r.Description).HasMaxLength(ReviewSettingsService.MaxDescriptionLength);
        builder.HasOne<Team>().WithMany().HasForeignKey(r => r.TeamId).OnDelete(DeleteBehavior.Cascade);
        builder.HasIndex(r => new { r.TeamId, r.Key }).IsUnique();
        builder.HasIndex(r => new { r.TeamId, r.Position });
    }
}

internal sealed class ReviewChangeConfiguration : IEntityTypeConfiguration<ReviewChange>
{
    public void Configure(EntityTypeBuilder<ReviewChange> builder)
    {
        builder.ToTable("review_history");
        builder.Property(c => c.ActorId).HasMaxLength(450);
        builder.Property(c => c.ActorName).HasMaxLength(256);
        builder.Property(c => c.FromReason).HasMaxLength(200);
        builder.Property(c => c.ToReason).HasMaxLength(200);
        builder.Property(c => c.FromDetail).HasMaxLength(ReviewCommand.MaxDetailLength);
        builder.Property(c => c.ToDetail).HasMaxLength(ReviewCommand.MaxDetailLength);
        builder.Property(c => c.FromNote).HasMaxLength(ReviewCommand.MaxNoteLength);
        builder.Property(c => c.ToNote).HasMaxLength(ReviewCommand.MaxNoteLength);
        builder.HasOne<Trace>().WithMany().HasForeignKey(c => c.TraceId).OnDelete(DeleteBehavior.Cascade);
        // A trace's history in order; unique, so two concurrent changes to one trace cannot both
        // take the same version: the later commit fails and the service retries on fresh state.
        builder.HasIndex(c => new { c.TeamId, c.TraceId, c.Version }).IsUnique();
    }
}
