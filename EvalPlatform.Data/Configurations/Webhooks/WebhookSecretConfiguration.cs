using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Webhooks;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace EvalPlatform.Data.Configurations.Webhooks;

internal sealed class WebhookSecretConfiguration : IEntityTypeConfiguration<WebhookSecret>
{
    public void Configure(EntityTypeBuilder<WebhookSecret> builder)
    {
        builder.ToTable("webhook_secrets");
        // Data Protection output (base64url) of a 49-character secret: about 200 characters.
        builder.Property(s => s.ProtectedSecret).HasMaxLength(1_000);
        builder.Property(s => s.Hint).HasMaxLength(8);
        builder.Property(s => s.CreatedByUserId).HasMaxLength(450);
        builder.HasOne<Team>().WithMany().HasForeignKey(s => s.TeamId).OnDelete(DeleteBehavior.Cascade);
        // One current secret per team: two Admins creating or rotating at once cannot both win.
        builder.HasIndex(s => s.TeamId).IsUnique().HasFilter("\"ExpiresAt\" IS NULL").HasDatabaseName("IX_webhook_secrets_TeamId_current");
        // Every delivery reads its team's active secrets.
        builder.HasIndex(s => new { s.TeamId, s.ExpiresAt });
    }
}
