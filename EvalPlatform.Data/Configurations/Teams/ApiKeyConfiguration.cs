using EvalPlatform.Core.Teams;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace EvalPlatform.Data.Configurations.Teams;

internal sealed class ApiKeyConfiguration : IEntityTypeConfiguration<ApiKey>
{
    public void Configure(EntityTypeBuilder<ApiKey> builder)
    {
        builder.ToTable("api_keys");
        builder.Property(k => k.Name).HasMaxLength(ApiKeyService.MaxNameLength);
        builder.Property(k => k.Prefix).HasMaxLength(32);
        builder.Property(k => k.Hash).HasMaxLength(32);
        builder.Property(k => k.CreatedByUserId).HasMaxLength(450);
        builder.Ignore(k => k.IsRevoked);
        builder.HasOne<Team>().WithMany().HasForeignKey(k => k.TeamId).OnDelete(DeleteBehavior.Cascade);
        // Every API request finds its key by prefix, across teams.
        builder.HasIndex(k => k.Prefix).IsUnique();
        // The team's key list.
        builder.HasIndex(k => new { k.TeamId, k.CreatedAt });
    }
}
