using EvalPlatform.Core.Data;
using Npgsql;

namespace EvalPlatform.Data.Ingestion;

/// <summary>
/// PostgreSQL's data errors: class 22 (data exception: a NUL in text, "\u0000" in jsonb, a number out of range),
/// class 23 but the unique index (which has its own path), class 54 (a value over a limit, e.g. an index row too large).
/// </summary>
internal sealed class PostgresStoreErrors : IStoreErrors
{
    public bool IsDataError(Exception e) =>
        Find(e) is { } p && (p.SqlState.StartsWith("22", StringComparison.Ordinal)
            || (p.SqlState.StartsWith("23", StringComparison.Ordinal) && p.SqlState != PostgresErrorCodes.UniqueViolation)
            || p.SqlState.StartsWith("54", StringComparison.Ordinal));

    public string Describe(Exception e) => Find(e) is { } p ? $"{p.MessageText} (SQLSTATE {p.SqlState})" : e.Message;

    /// <summary>The server's error, whether thrown as is (COPY) or wrapped by EF's <c>SaveChanges</c>.</summary>
    private static PostgresException? Find(Exception e) => e as PostgresException ?? e.InnerException as PostgresException;
}

/// <summary>SQLite stores any text and number the model allows, so no failure is a refused value.</summary>
internal sealed class SqliteStoreErrors : IStoreErrors
{
    public bool IsDataError(Exception e) => false;

    public string Describe(Exception e) => e.Message;
}
