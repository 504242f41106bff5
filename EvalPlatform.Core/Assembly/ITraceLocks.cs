using EvalPlatform.Core.Data;

namespace EvalPlatform.Core.Assembly;

/// <summary>
/// Serialises writers of the same assembled traces, across nodes where the database allows it.
/// Taken inside the caller's open transaction and held until it ends (PostgreSQL: transaction-scoped
/// advisory locks, in key order so two requests never deadlock; SQLite: one writer at a time).
/// </summary>
public interface ITraceLocks
{
    Task<IAsyncDisposable> LockAsync(IEvalDbContext db, Guid teamId, IReadOnlyList<string> traceKeys, CancellationToken ct);
}
