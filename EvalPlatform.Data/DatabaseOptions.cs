namespace EvalPlatform.Data;

/// <summary>The <c>Database</c> section. Which provider runs follows from the connection strings.</summary>
public sealed class DatabaseOptions
{
    public const string SectionName = "Database";

    /// <summary>Apply pending migrations when the server starts (turn off to run <c>admin migrate</c> yourself).</summary>
    public bool MigrateAtStart { get; set; } = true;
}

public enum DatabaseProvider
{
    Sqlite,
    Postgres,
}

/// <summary>Which database this process uses, read once from configuration.</summary>
public sealed record DatabaseTarget(DatabaseProvider Provider, string ConnectionString)
{
    public const string PostgresKey = "ConnectionStrings:Postgres";
    public const string SqliteKey = "ConnectionStrings:Sqlite";
    public const string DefaultSqlite = "Data Source=data/evalplatform.db";

    /// <summary>The setting an operator fixes when this database cannot be reached.</summary>
    public string SettingName => Provider == DatabaseProvider.Postgres ? PostgresKey : SqliteKey;

    /// <summary>Where it points, without secrets: for log lines.</summary>
    public string Describe()
    {
        if (Provider == DatabaseProvider.Postgres)
        {
            var b = new Npgsql.NpgsqlConnectionStringBuilder(ConnectionString);
            return $"PostgreSQL at {b.Host}:{b.Port}, database '{b.Database}', user '{b.Username}'";
        }

        var s = new Microsoft.Data.Sqlite.SqliteConnectionStringBuilder(ConnectionString);
        return $"SQLite file '{Path.GetFullPath(s.DataSource)}'";
    }
}
