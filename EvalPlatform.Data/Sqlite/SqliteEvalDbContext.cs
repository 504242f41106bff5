using EvalPlatform.Core.Tenancy;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;

namespace EvalPlatform.Data.Sqlite;

/// <summary>The model on SQLite, with its own migrations under <c>Migrations/Sqlite</c>.</summary>
public sealed class SqliteEvalDbContext(DbContextOptions<SqliteEvalDbContext> options, ITeamContext? team = null)
    : EvalDbContext(options, team)
{
    protected override void ConfigureConventions(ModelConfigurationBuilder configurationBuilder)
    {
        base.ConfigureConventions(configurationBuilder);
        // SQLite cannot compare or order DateTimeOffset in SQL; a sortable long (UTC ticks) can.
        configurationBuilder.Properties<DateTimeOffset>().HaveConversion<DateTimeOffsetToBinaryConverter>();
        configurationBuilder.Properties<DateTimeOffset?>().HaveConversion<DateTimeOffsetToBinaryConverter>();
    }
}
