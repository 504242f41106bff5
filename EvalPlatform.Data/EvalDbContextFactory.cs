using EvalPlatform.Core.Data;
using Microsoft.EntityFrameworkCore;

namespace EvalPlatform.Data;

/// <summary>
/// Hands out the provider's context as the shared <see cref="EvalDbContext"/> and as Core's
/// <see cref="IEvalDbContext"/>: one short-lived context per operation.
/// </summary>
internal sealed class EvalDbContextFactory<TContext>(IDbContextFactory<TContext> inner)
    : IDbContextFactory<EvalDbContext>, IEvalDbContextFactory
    where TContext : EvalDbContext
{
    public EvalDbContext CreateDbContext() => inner.CreateDbContext();

    public async Task<IEvalDbContext> CreateAsync(CancellationToken cancellationToken = default) =>
        await inner.CreateDbContextAsync(cancellationToken);
}
