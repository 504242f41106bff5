using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Traces.Views;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace EvalPlatform.Data.Configurations.Traces;

internal sealed class SavedViewConfiguration : IEntityTypeConfiguration<SavedView>
{
    public void Configure(EntityTypeBuilder<SavedView> builder)
    {
        builder.ToTable("saved_views");
        builder.Property(v => v.Name).HasMaxLength(SavedViewService.MaxNameLength);
        builder.Property(v => v.OwnerId).HasMaxLength(450);
        builder.Property(v => v.FilterJson).HasMaxLength(8_000);
        builder.Property(v => v.Columns).HasMaxLength(TraceListColumns.MaxColumnsText);
        builder.HasOne<Team>().WithMany().HasForeignKey(v => v.TeamId).OnDelete(DeleteBehavior.Cascade);
        // The picker: the team's shared views and the reader's own.
        builder.HasIndex(v => new { v.TeamId, v.OwnerId });
        builder.HasIndex(v => new { v.TeamId, v.Shared });
    }
}

internal sealed class TraceListLayoutConfiguration : IEntityTypeConfiguration<TraceListLayout>
{
    public void Configure(EntityTypeBuilder<TraceListLayout> builder)
    {
        builder.ToTable("trace_list_layouts");
        builder.Property(l => l.OwnerId).HasMaxLength(450);
        builder.Property(l => l.Columns).HasMaxLength(TraceListColumns.MaxColumnsText);
        builder.HasOne<Team>().WithMany().HasForeignKey(l => l.TeamId).OnDelete(DeleteBehavior.Cascade);
        // One layout per person and team.
        builder.HasIndex(l => new { l.TeamId, l.OwnerId }).IsUnique();
    }
}
