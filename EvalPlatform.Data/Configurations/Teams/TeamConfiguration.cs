using EvalPlatform.Core.Digests;
using EvalPlatform.Core.Teams;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace EvalPlatform.Data.Configurations.Teams;

internal sealed class TeamConfiguration : IEntityTypeConfiguration<Team>
{
    public void Configure(EntityTypeBuilder<Team> builder)
    {
        builder.ToTable("teams");
        builder.Property(t => t.Name).HasMaxLength(TeamService.MaxNameLength);
        builder.Property(t => t.NormalizedName).HasMaxLength(TeamService.MaxNameLength);
        // Team names are how operators address teams (admin commands): unique regardless of case.
        builder.HasIndex(t => t.NormalizedName).IsUnique();
        // A handful of browser origins (ingestion CORS); read with the team's key, never queried by.
        builder.Property(t => t.IngestionOrigins);
        // The daily digest (ADR 24): an IANA zone, on or off, a local time of day. Existing teams get UTC, off, 09:00.
        builder.Property(t => t.TimeZone).HasMaxLength(LocalDays.MaxTimeZoneLength).HasDefaultValue(LocalDays.DefaultTimeZone);
        // The store default is for the rows that exist when the column is added; the sentinel is a time no one can
        // choose (HH:mm), so EF always writes the team's own time, 00:00 included.
        builder.Property(t => t.DigestTime).HasDefaultValue(new TimeOnly(9, 0)).HasSentinel(TimeOnly.MaxValue);
        // Trace retention (ADR 37): days, or null (every existing team) to keep traces forever. Read by the nightly job
        // for the few teams that set it; never queried by otherwise, so no index.
        builder.Property(t => t.TraceRetentionDays);
    }
}
