using EvalPlatform.Core.Audit;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace EvalPlatform.Data.Configurations.Audit;

internal sealed class AuditEntryConfiguration : IEntityTypeConfiguration<AuditEntry>
{
    public void Configure(EntityTypeBuilder<AuditEntry> builder)
    {
        builder.ToTable("audit_entries");
        builder.Property(e => e.Actor).HasMaxLength(AuditLog.MaxActorLength);
        builder.Property(e => e.ActorId).HasMaxLength(64);
        builder.Property(e => e.Action).HasMaxLength(AuditLog.MaxActionLength);
        builder.Property(e => e.Target).HasMaxLength(AuditLog.MaxTargetLength);
        builder.Property(e => e.Details).HasMaxLength(AuditLog.MaxDetailsLength);
        // The log newest first, and by action.
        builder.HasIndex(e => new { e.TeamId, e.At, e.Id });
        builder.HasIndex(e => new { e.TeamId, e.Action, e.At });
    }
}
