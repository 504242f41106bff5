using EvalPlatform.Core.Queues;
using EvalPlatform.Core.Reviews;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Traces;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace EvalPlatform.Data.Configurations.Queues;

internal sealed class ReviewQueueConfiguration : IEntityTypeConfiguration<ReviewQueue>
{
    public void Configure(EntityTypeBuilder<ReviewQueue> builder)
    {
        builder.ToTable("review_queues");
        builder.Property(q => q.Name).HasMaxLength(QueueService.MaxNameLength);
        builder.Property(q => q.Instructions).HasMaxLength(QueueService.MaxInstructionsLength);
        builder.Property(q => q.FilterJson).HasMaxLength(8_000);
        builder.Property(q => q.CreatedBy).HasMaxLength(450);
        builder.HasOne<Team>().WithMany().HasForeignKey(q => q.TeamId).OnDelete(DeleteBehavior.Cascade);
        builder.HasMany(q => q.Assignees).WithOne().HasForeignKey(a => a.QueueId).OnDelete(DeleteBehavior.Cascade);
        builder.HasIndex(q => new { q.TeamId, q.Name }).IsUnique();
    }
}

internal sealed class ReviewQueueAssigneeConfiguration : IEntityTypeConfiguration<ReviewQueueAssignee>
{
    public void Configure(EntityTypeBuilder<ReviewQueueAssignee> builder)
    {
        builder.ToTable("review_queue_assignees");
        builder.HasKey(a => new { a.QueueId, a.UserId });
        builder.Property(a => a.UserId).HasMaxLength(450);
        builder.HasIndex(a => new { a.TeamId, a.UserId });
    }
}

internal sealed class QueueItemConfiguration : IEntityTypeConfiguration<QueueItem>
{
    public void Configure(EntityTypeBuilder<QueueItem> builder)
    {
        builder.ToTable("queue_items");
        builder.Property(i => i.FinalReason).HasMaxLength(200);
        builder.Property(i => i.SettledBy).HasMaxLength(450);
        builder.HasOne<ReviewQueue>().WithMany().HasForeignKey(i => i.QueueId).OnDelete(DeleteBehavior.Cascade);
        builder.HasOne<Trace>().WithMany().HasForeignKey(i => i.TraceId).OnDelete(DeleteBehavior.Cascade);
        // A trace enters a queue once: two reviewers materialising the same trace at once make one item.
        builder.HasIndex(i => new { i.TeamId, i.QueueId, i.TraceId }).IsUnique();
        builder.HasIndex(i => new { i.TeamId, i.QueueId, i.State });
        // A trace's queue items (the sample and filter membership checks probe by trace).
        builder.HasIndex(i => i.TraceId);
    }
}

internal sealed class QueueClaimConfiguration : IEntityTypeConfiguration<QueueClaim>
{
    public void Configure(EntityTypeBuilder<QueueClaim> builder)
    {
        builder.ToTable("queue_claims");
        // The key is the item: one claim row per item at most, so two reviewers inserting a claim
        // on the same item cannot both succeed; an expired row is taken over by a conditional update.
        builder.HasKey(c => c.QueueItemId);
        builder.Property(c => c.UserId).HasMaxLength(450);
        builder.HasOne<QueueItem>().WithOne().HasForeignKey<QueueClaim>(c => c.QueueItemId).OnDelete(DeleteBehavior.Cascade);
        builder.HasIndex(c => new { c.TeamId, c.QueueId, c.UserId });
    }
}

internal sealed class QueueVerdictConfiguration : IEntityTypeConfiguration<QueueVerdict>
{
    public void Configure(EntityTypeBuilder<QueueVerdict> builder)
    {
        builder.ToTable("queue_verdicts");
        builder.Ignore(v => v.Category);
        builder.Property(v => v.ReviewerId).HasMaxLength(450);
        builder.Property(v => v.ReviewerName).HasMaxLength(256);
        builder.Property(v => v.Reason).HasMaxLength(200);
        builder.Property(v => v.Detail).HasMaxLength(ReviewCommand.MaxDetailLength);
        builder.Property(v => v.Note).HasMaxLength(ReviewCommand.MaxNoteLength);
        builder.HasOne<QueueItem>().WithMany().HasForeignKey(v => v.QueueItemId).OnDelete(DeleteBehavior.Cascade);
        // One verdict per reviewer and item: a double submit cannot count twice.
        builder.HasIndex(v => new { v.QueueItemId, v.ReviewerId }).IsUnique();
        // Progress per reviewer (done today / in total).
        builder.HasIndex(v => new { v.TeamId, v.QueueId, v.ReviewerId, v.GivenAt });
    }
}
