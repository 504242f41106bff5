using EvalPlatform.Data;
using Microsoft.EntityFrameworkCore;

namespace EvalPlatform.Tests.Unit.Data;

/// <summary>
/// Each provider's migrations describe the model the code has: a model change without its migration (for either
/// database) fails here instead of at an install's first start.
/// </summary>
public sealed class MigrationsTests
{
    [Fact]
    public void Postgres_TheMigrationsMatchTheModel()
    {
        using var db = new PostgresDesignTimeFactory().CreateDbContext([]);
        Assert.False(db.Database.HasPendingModelChanges(), "The model has changes no PostgreSQL migration holds: add one (README, Developing).");
    }

    [Fact]
    public void Sqlite_TheMigrationsMatchTheModel()
    {
        using var db = new SqliteDesignTimeFactory().CreateDbContext([]);
        Assert.False(db.Database.HasPendingModelChanges(), "The model has changes no SQLite migration holds: add one (README, Developing).");
    }
}
