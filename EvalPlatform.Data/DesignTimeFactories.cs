using EvalPlatform.Data.Postgres;
using EvalPlatform.Data.Sqlite;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;
using Microsoft.Extensions.DependencyInjection;

namespace EvalPlatform.Data;

// `dotnet ef migrations add X --context PostgresEvalDbContext -o Migrations/Postgres` (and Sqlite).
// Identity's schema version comes from IdentityOptions in the application services; without them
// the migration silently lacks the passkeys table, so the factories supply the same options.

internal sealed class PostgresDesignTimeFactory : IDesignTimeDbContextFactory<PostgresEvalDbContext>
{
    public PostgresEvalDbContext CreateDbContext(string[] args) => new(
        new DbContextOptionsBuilder<PostgresEvalDbContext>()
            .UseNpgsql("Host=localhost;Database=evalplatform_design", o => o.MigrationsHistoryTable("__ef_migrations_history"))
            .UseApplicationServiceProvider(DesignTimeServices.Provider)
            .Options);
}

internal sealed class SqliteDesignTimeFactory : IDesignTimeDbContextFactory<SqliteEvalDbContext>
{
    public SqliteEvalDbContext CreateDbContext(string[] args) => new(
        new DbContextOptionsBuilder<SqliteEvalDbContext>()
            .UseSqlite("Data Source=design.db", o => o.MigrationsHistoryTable("__ef_migrations_history"))
            .UseApplicationServiceProvider(DesignTimeServices.Provider)
            .Options);
}

internal static class DesignTimeServices
{
    public static readonly IServiceProvider Provider = new ServiceCollection()
        .Configure<IdentityOptions>(o => o.Stores.SchemaVersion = IdentitySchemaVersions.Version3)
        .BuildServiceProvider();
}
