using EvalPlatform.Core.Providers.Proxy;
using EvalPlatform.Core.Teams;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace EvalPlatform.Data.Configurations.Providers;

internal sealed class ProviderBudgetConfiguration : IEntityTypeConfiguration<ProviderBudget>
{
    public void Configure(EntityTypeBuilder<ProviderBudget> builder)
    {
        builder.ToTable("provider_budgets");
        builder.Property(b => b.Scope).HasConversion<string>().HasMaxLength(20);
        builder.Property(b => b.Metric).HasConversion<string>().HasMaxLength(20);
        builder.Property(b => b.Window).HasConversion<string>().HasMaxLength(20);
        builder.Property(b => b.Limit).HasPrecision(18, 8);
        builder.Property(b => b.EndUser).HasMaxLength(200);
        builder.HasOne<Team>().WithMany().HasForeignKey(b => b.TeamId).OnDelete(DeleteBehavior.Cascade);
        builder.HasIndex(b => new { b.TeamId, b.CreatedAt });
    }
}
