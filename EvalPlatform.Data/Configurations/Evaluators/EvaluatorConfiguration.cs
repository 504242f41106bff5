using EvalPlatform.Core.Evaluators;
using EvalPlatform.Core.Teams;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace EvalPlatform.Data.Configurations.Evaluators;

internal sealed class EvaluatorConfiguration : IEntityTypeConfiguration<Evaluator>
{
    public void Configure(EntityTypeBuilder<Evaluator> builder)
    {
        builder.ToTable("evaluators");
        builder.Property(e => e.Name).HasMaxLength(EvaluatorService.MaxName);
        builder.Property(e => e.Model).HasMaxLength(EvaluatorService.MaxModel);
        builder.Property(e => e.Prompt).HasMaxLength(EvaluatorService.MaxPrompt);
        builder.Property(e => e.Output).HasConversion<string>().HasMaxLength(20);
        builder.Property(e => e.FilterJson).HasMaxLength(10_000);
        builder.Property(e => e.DailyBudgetUsd).HasPrecision(18, 6);
        builder.Property(e => e.LastError).HasMaxLength(2000);
        builder.Property(e => e.CreatedBy).HasMaxLength(200);
        builder.HasOne<Team>().WithMany().HasForeignKey(e => e.TeamId).OnDelete(DeleteBehavior.Cascade);
        builder.HasIndex(e => new { e.TeamId, e.Name }).IsUnique();
        // The minute job's list across teams.
        builder.HasIndex(e => new { e.Enabled, e.OnNewTraces });
    }
}
