using System.Security.Cryptography;
using System.Text;
using EvalPlatform.Core.Assembly;
using EvalPlatform.Core.Data;
using Microsoft.EntityFrameworkCore;

namespace EvalPlatform.Data.Assembly;

/// <summary>PostgreSQL: one transaction-scoped advisory lock per (team, trace key), released by commit or rollback.</summary>
internal sealed class PostgresTraceLocks : ITraceLocks
{
    public async Task<IAsyncDisposable> LockAsync(IEvalDbContext db, Guid teamId, IReadOnlyList<string> traceKeys, CancellationToken ct)
    {
        // Sorted: two requests sharing traces take their locks in the same order, so they never deadlock.
        foreach (var key in traceKeys.Select(k => Key(teamId, k)).Distinct().Order())
        {
            await db.Database.ExecuteSqlRawAsync("SELECT pg_advisory_xact_lock({0})", [key], ct);
        }

        return NoRelease.Instance;
    }

    private static long Key(Guid teamId, string traceKey) =>
        BitConverter.ToInt64(SHA256.HashData(Encoding.UTF8.GetBytes($"{teamId:N}\n{traceKey}")));

    private sealed class NoRelease : IAsyncDisposable
    {
        public static readonly NoRelease Instance = new();

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}

/// <summary>
/// SQLite: one assembling writer at a time in this process. SQLite has one writer anyway, and two
/// transactions that both read before writing would fail each other's upgrade to a write lock.
/// </summary>
internal sealed class SqliteTraceLocks : ITraceLocks, IDisposable
{
    private readonly SemaphoreSlim writer = new(1, 1);

    public async Task<IAsyncDisposable> LockAsync(IEvalDbContext db, Guid teamId, IReadOnlyList<string> traceKeys, CancellationToken ct)
    {
        await writer.WaitAsync(ct);
        return new Release(writer);
    }

    public void Dispose() => writer.Dispose();

    private sealed class Release(SemaphoreSlim writer) : IAsyncDisposable
    {
        public ValueTask DisposeAsync()
        {
            writer.Release();
            return ValueTask.CompletedTask;
        }
    }
}
