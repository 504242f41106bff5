using EvalPlatform.Core.Digests;
using EvalPlatform.Core.Teams;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace EvalPlatform.Data.Configurations.Digests;

internal sealed class TeamDigestConfiguration : IEntityTypeConfiguration<TeamDigest>
{
    public void Configure(EntityTypeBuilder<TeamDigest> builder)
    {
        builder.ToTable("team_digests");
        builder.Property(d => d.TimeZone).HasMaxLength(LocalDays.MaxTimeZoneLength);
        builder.HasOne<Team>().WithMany().HasForeignKey(d => d.TeamId).OnDelete(DeleteBehavior.Cascade);
        // Once per team and local date: a second node's (or a retry's) digest of the same day fails here and rolls back
        // with its outbox rows (ADR 24).
        builder.HasIndex(d => new { d.TeamId, d.LocalDate }).IsUnique();
    }
}
