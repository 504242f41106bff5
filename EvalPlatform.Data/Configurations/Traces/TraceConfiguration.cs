using EvalPlatform.Core.Ingestion;
using EvalPlatform.Core.Reviews;
using EvalPlatform.Core.Traces;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace EvalPlatform.Data.Configurations.Traces;

internal sealed class TraceConfiguration : IEntityTypeConfiguration<Trace>
{
    public void Configure(EntityTypeBuilder<Trace> builder)
    {
        builder.ToTable("traces");
        builder.Property(t => t.ExternalId).HasMaxLength(IngestionLimits.MaxShortText);
        builder.Property(t => t.ContentHash).HasMaxLength(32);
        builder.Property(t => t.SortKey).HasMaxLength(51);
        builder.Property(t => t.Name).HasMaxLength(IngestionLimits.MaxName);
        foreach (var p in new[] { nameof(Trace.SessionId), nameof(Trace.UserId), nameof(Trace.Environment), nameof(Trace.Release),
                     nameof(Trace.Model), nameof(Trace.Provider), nameof(Trace.Experiment), nameof(Trace.Variant) })
        {
            builder.Property(p).HasMaxLength(IngestionLimits.MaxShortText);
        }

        builder.Property(t => t.InputPreview).HasMaxLength(IngestionLimits.PreviewLength);
        builder.Property(t => t.OutputPreview).HasMaxLength(IngestionLimits.PreviewLength);
        builder.Property(t => t.Cost).HasPrecision(18, 8);
        builder.Property(t => t.ReviewReason).HasMaxLength(200);
        builder.Property(t => t.ReviewDetail).HasMaxLength(ReviewCommand.MaxDetailLength);
        builder.Property(t => t.ReviewNote).HasMaxLength(ReviewCommand.MaxNoteLength);
        builder.Property(t => t.ReviewedBy).HasMaxLength(450);
        // No foreign keys on the ingestion tables (ADR 11): a trace's TeamId and a span's TraceId are plain columns.
        // PostgreSQL checks a foreign key with a query and a row lock per inserted row, which cost ingestion
        // more than all of these indexes together. Both are written only by the ingestion paths, trace and
        // spans in one transaction; whatever deletes traces deletes their spans in the same transaction.
        builder.Ignore(t => t.Spans);

        // Idempotency: one trace per client id per team (the database enforces it under races).
        builder.HasIndex(t => new { t.TeamId, t.ExternalId }).IsUnique().HasFilter("\"ExternalId\" IS NOT NULL");
        // The list: newest first per team, keyset-paged on SortKey.
        builder.HasIndex(t => new { t.TeamId, t.SortKey });
        // The filters a reviewer uses most, each leading with the team.
        // Partial: a new trace is pending, so ingestion pays nothing for it. "Pending" lists use the
        // SortKey index (the newest traces are the pending ones); the reviewed statuses use this one.
        builder.HasIndex(t => new { t.TeamId, t.ReviewStatus, t.SortKey }).HasFilter("\"ReviewStatus\" <> 0");
        // Partial: a session filter never matches a trace without one, and many apps send none.
        builder.HasIndex(t => new { t.TeamId, t.SessionId }).HasFilter("\"SessionId\" IS NOT NULL");
        builder.HasIndex(t => new { t.TeamId, t.StartedAt });
        // The metrics rollup's "what changed since the watermark?" across teams (ADR 17). Not led by the team: the
        // job reads every team's changes at once and then works per team.
        builder.HasIndex(t => t.UpdatedAt);
        // Review filters. Partial: only reviewed traces are in them, so ingestion (all pending) pays nothing.
        builder.HasIndex(t => new { t.TeamId, t.ReviewReason, t.SortKey }).HasFilter("\"ReviewReason\" IS NOT NULL");
        builder.HasIndex(t => new { t.TeamId, t.ReviewedBy, t.SortKey }).HasFilter("\"ReviewedBy\" IS NOT NULL");
    }
}

internal sealed class SpanConfiguration : IEntityTypeConfiguration<Span>
{
    public void Configure(EntityTypeBuilder<Span> builder)
    {
        builder.ToTable("spans");
        builder.Property(s => s.ExternalId).HasMaxLength(IngestionLimits.MaxShortText);
        builder.Property(s => s.Name).HasMaxLength(IngestionLimits.MaxName);
        builder.Property(s => s.Model).HasMaxLength(IngestionLimits.MaxShortText);
        builder.Property(s => s.ParentExternalId).HasMaxLength(IngestionLimits.MaxShortText);
        builder.Property(s => s.Provider).HasMaxLength(IngestionLimits.MaxShortText);
        builder.Property(s => s.Cost).HasPrecision(18, 8);
        // A LangSmith run (or its feedback) sent without its trace id is found by the client's span id.
        // Partial: spans without a client id (every simple-shape span) pay no insert for it.
        builder.HasIndex(s => new { s.TeamId, s.ExternalId }).HasFilter("\"ExternalId\" IS NOT NULL");
        // A trace's spans are always read together, by trace (the team filter then checks a handful of
        // rows). A (TeamId, TraceId) index instead only cost every ingested span a wider key.
        builder.HasIndex(s => s.TraceId);
    }
}
