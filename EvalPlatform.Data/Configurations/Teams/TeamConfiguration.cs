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
    }
}
