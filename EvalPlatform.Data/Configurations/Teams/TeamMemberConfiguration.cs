using EvalPlatform.Core.Teams;
using EvalPlatform.Data.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace EvalPlatform.Data.Configurations.Teams;

internal sealed class TeamMemberConfiguration : IEntityTypeConfiguration<TeamMember>
{
    public void Configure(EntityTypeBuilder<TeamMember> builder)
    {
        builder.ToTable("team_members");
        builder.Property(m => m.UserId).HasMaxLength(450);
        builder.HasOne<Team>().WithMany().HasForeignKey(m => m.TeamId).OnDelete(DeleteBehavior.Cascade);
        builder.HasOne<ApplicationUser>().WithMany().HasForeignKey(m => m.UserId).OnDelete(DeleteBehavior.Cascade);
        // One membership per user and team; leads with TeamId for the team's member list.
        builder.HasIndex(m => new { m.TeamId, m.UserId }).IsUnique();
        // A user's teams (app bar, sign-in) are looked up by user across teams.
        builder.HasIndex(m => m.UserId);
    }
}
