using EvalPlatform.Core.Providers;
using EvalPlatform.Core.Teams;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace EvalPlatform.Data.Configurations.Providers;

internal sealed class ProviderConnectionConfiguration : IEntityTypeConfiguration<ProviderConnection>
{
    public void Configure(EntityTypeBuilder<ProviderConnection> builder)
    {
        builder.ToTable("provider_connections");
        builder.Property(c => c.Kind).HasConversion<string>().HasMaxLength(20);
        builder.Property(c => c.Name).HasMaxLength(100);
        builder.Property(c => c.BaseUrl).HasMaxLength(2_000);
        builder.Property(c => c.ProtectedApiKey).HasMaxLength(4_000);
        builder.Property(c => c.KeyHint).HasMaxLength(8);
        builder.Property(c => c.CreatedBy).HasMaxLength(450);
        builder.HasOne<Team>().WithMany().HasForeignKey(c => c.TeamId).OnDelete(DeleteBehavior.Cascade);
        // A name is how a caller picks a connection (X-EvalPlatform-Provider): one per team.
        builder.HasIndex(c => new { c.TeamId, c.Name }).IsUnique();
        // The proxy's lookup: the team's connections of a kind, oldest first.
        builder.HasIndex(c => new { c.TeamId, c.Kind, c.CreatedAt });
    }
}

internal sealed class ProviderCallConfiguration : IEntityTypeConfiguration<ProviderCall>
{
    public void Configure(EntityTypeBuilder<ProviderCall> builder)
    {
        builder.ToTable("provider_calls");
        builder.Property(c => c.Source).HasConversion<string>().HasMaxLength(20);
        builder.Property(c => c.Model).HasMaxLength(200);
        builder.Property(c => c.Cost).HasPrecision(18, 8);
        builder.Property(c => c.EndUser).HasMaxLength(200);
        // No foreign key to the connection: a deleted connection's calls still count in the team's spend (budgets).
        builder.HasOne<Team>().WithMany().HasForeignKey(c => c.TeamId).OnDelete(DeleteBehavior.Cascade);
        // A connection's usage over time (the provider page) and the team's over time (budgets per team).
        builder.HasIndex(c => new { c.TeamId, c.ConnectionId, c.At });
        builder.HasIndex(c => new { c.TeamId, c.At });
        // Budgets per key and per end user over a window.
        builder.HasIndex(c => new { c.TeamId, c.ApiKeyId, c.At }).HasFilter("\"ApiKeyId\" IS NOT NULL").HasDatabaseName("IX_provider_calls_api_key");
        builder.HasIndex(c => new { c.TeamId, c.EndUser, c.At }).HasFilter("\"EndUser\" IS NOT NULL").HasDatabaseName("IX_provider_calls_end_user");
    }
}

internal sealed class ProviderModelPriceConfiguration : IEntityTypeConfiguration<ProviderModelPrice>
{
    public void Configure(EntityTypeBuilder<ProviderModelPrice> builder)
    {
        builder.ToTable("provider_model_prices");
        builder.Property(p => p.ModelPrefix).HasMaxLength(200);
        builder.Property(p => p.InputPerMillion).HasPrecision(18, 6);
        builder.Property(p => p.OutputPerMillion).HasPrecision(18, 6);
        builder.HasOne<Team>().WithMany().HasForeignKey(p => p.TeamId).OnDelete(DeleteBehavior.Cascade);
        builder.HasIndex(p => new { p.TeamId, p.ModelPrefix }).IsUnique();
    }
}
