using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using Microsoft.Extensions.Logging;

namespace EvalPlatform.Data;

/// <summary>Brings the database to the current schema; used at start and by <c>admin migrate</c>.</summary>
public sealed class DatabaseMigrator(IDbContextFactory<EvalDbContext> factory, DatabaseTarget target, ILogger<DatabaseMigrator> logger)
{
    public async Task<IReadOnlyList<string>> MigrateAsync(CancellationToken ct = default)
    {
        if (target.Provider == DatabaseProvider.Sqlite)
        {
            PrepareSqliteFolder();
        }

        await using var db = factory.CreateDbContext();
        // On a fresh database EF probes a history table that is not there yet and logs the failed
        // query as an error; creating the (empty) table first keeps a first start's log clean.
        await db.Database.ExecuteSqlRawAsync(db.GetService<IHistoryRepository>().GetCreateIfNotExistsScript(), ct);
        var pending = (await db.Database.GetPendingMigrationsAsync(ct)).ToList();
        if (pending.Count > 0)
        {
            logger.LogInformation("Applying {Count} migration(s) to {Database}: {Migrations}", pending.Count, target.Describe(), string.Join(", ", pending));
            await db.Database.MigrateAsync(ct);
        }

        if (target.Provider == DatabaseProvider.Sqlite)
        {
            // Write-ahead logging lets the app read while a write is in progress; it is a property of the file.
            await db.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL;", ct);
        }

        return pending;
    }

    /// <summary>Can this process reach the database at all? Throws with the driver's reason when not.</summary>
    public async Task CheckConnectionAsync(CancellationToken ct = default)
    {
        await using var db = factory.CreateDbContext();
        await db.Database.OpenConnectionAsync(ct);
        await db.Database.CloseConnectionAsync();
    }

    private void PrepareSqliteFolder()
    {
        var file = new SqliteConnectionStringBuilder(target.ConnectionString).DataSource;
        var folder = Path.GetDirectoryName(Path.GetFullPath(file));
        if (!string.IsNullOrEmpty(folder))
        {
            Directory.CreateDirectory(folder);
        }
    }
}
