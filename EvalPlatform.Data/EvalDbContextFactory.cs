using EvalPlatform.Core.Data;
using EvalPlatform.Core.Tenancy;
using Microsoft.EntityFrameworkCore;

namespace EvalPlatform.Data;

/// <summary>
/// Hands out the provider's context as the shared <see cref="EvalDbContext"/> and as Core's
/// <see cref="IEvalDbContextFactory"/>: one short-lived context per operation, bound to the
/// scope's team. The options are one singleton instance, so EF finds its internal services
/// for them in its cache instead of building and comparing new options for every scope.
/// </summary>
internal sealed class EvalDbContextFactory<TContext>(
    DbContextOptions<TContext> options,
    ITeamContext? team,
    Func<DbContextOptions<TContext>, ITeamContext?, TContext> create)
    : IDbContextFactory<EvalDbContext>, IEvalDbContextFactory
    where TContext : EvalDbContext
{
    public EvalDbContext CreateDbContext() => create(options, team);

    public Task<IEvalDbContext> CreateAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult<IEvalDbContext>(CreateDbContext());
}
