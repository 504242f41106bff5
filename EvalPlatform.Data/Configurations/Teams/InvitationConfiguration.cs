using EvalPlatform.Core.Teams;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace EvalPlatform.Data.Configurations.Teams;

internal sealed class InvitationConfiguration : IEntityTypeConfiguration<Invitation>
{
    public void Configure(EntityTypeBuilder<Invitation> builder)
    {
        builder.ToTable("invitations");
        builder.Property(i => i.Email).HasMaxLength(InvitationService.MaxEmailLength);
        builder.Property(i => i.NormalizedEmail).HasMaxLength(InvitationService.MaxEmailLength);
        builder.Property(i => i.TokenHash).HasMaxLength(32);
        builder.Property(i => i.CreatedByUserId).HasMaxLength(450);
        builder.Property(i => i.AcceptedByUserId).HasMaxLength(450);
        builder.HasOne<Team>().WithMany().HasForeignKey(i => i.TeamId).OnDelete(DeleteBehavior.Cascade);
        // A link is found by its hash, across teams (the acceptance page has no team yet).
        builder.HasIndex(i => i.TokenHash).IsUnique();
        // The team's pending invitations, and "is this address already invited?".
        builder.HasIndex(i => new { i.TeamId, i.NormalizedEmail });
    }
}
