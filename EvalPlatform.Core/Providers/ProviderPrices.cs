using EvalPlatform.Core.Data;
using EvalPlatform.Core.Traces;
using Microsoft.EntityFrameworkCore;

namespace EvalPlatform.Core.Providers;

/// <summary>The current team's own model prices, as <see cref="ModelPrices.Compute(string?, int?, int?, IReadOnlyList{ModelPriceOverride}?)"/> takes them.</summary>
public sealed class ProviderPrices(IEvalDbContextFactory dbFactory)
{
    public async Task<IReadOnlyList<ModelPriceOverride>> CurrentTeamAsync(CancellationToken ct)
    {
        await using var db = await dbFactory.CreateAsync(ct);
        var rows = await db.ProviderModelPrices.AsNoTracking().ToListAsync(ct);
        return rows.Select(p => new ModelPriceOverride(p.ModelPrefix, p.InputPerMillion, p.OutputPerMillion)).ToList();
    }
}
