using EvalPlatform.Core.Providers.Proxy;
using EvalPlatform.Core.Teams;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace EvalPlatform.Data.Configurations.Providers;

internal sealed class ProxyCassetteConfiguration : IEntityTypeConfiguration<ProxyCassette>
{
    public void Configure(EntityTypeBuilder<ProxyCassette> builder)
    {
        builder.ToTable("proxy_cassettes");
        builder.Property(c => c.Fingerprint).HasMaxLength(64);
        builder.Property(c => c.Route).HasMaxLength(100);
        builder.Property(c => c.Provider).HasMaxLength(20);
        builder.Property(c => c.Connection).HasMaxLength(200);
        builder.HasOne<Team>().WithMany().HasForeignKey(c => c.TeamId).OnDelete(DeleteBehavior.Cascade);
        // One cassette per request and team: a re-record replaces it.
        builder.HasIndex(c => new { c.TeamId, c.Fingerprint }).IsUnique();
    }
}
