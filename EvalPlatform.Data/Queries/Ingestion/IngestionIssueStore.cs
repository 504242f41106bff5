using System.Data.Common;
using System.Globalization;
using System.Text;
using EvalPlatform.Core.Common;
using EvalPlatform.Core.Ingestion;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;

namespace EvalPlatform.Data.Queries.Ingestion;

/// <summary>
/// The issue log's writer side. Cross-team by nature (one flush carries every team's counts): each
/// read names its team explicitly and opts out of the team filter with <c>IgnoreQueryFilters()</c>, here
/// and nowhere else for this table. The upsert is one multi-row <c>INSERT … ON CONFLICT … DO UPDATE</c>
/// per batch, in one transaction, which both providers speak; they differ in the function names and in
/// how a parameter is stored (SQLite: upper-case text ids and tick-encoded times, as EF stores them).
/// </summary>
internal abstract class IngestionIssueStore(IDbContextFactory<EvalDbContext> factory) : IIngestionIssueStore
{
    /// <summary>Rows per statement: 13 parameters each, well under both providers' parameter limits.</summary>
    internal const int RowsPerStatement = 250;

    private static readonly string[] Columns =
        ["Id", "TeamId", "Hour", "Door", "Kind", "Field", "Reason", "TraceKey", "SpanKey", "GroupKey", "Count", "FirstSeenAt", "LastSeenAt"];

    public async Task<int> CountRowsAsync(Guid teamId, DateTimeOffset hour, CancellationToken ct = default)
    {
        await using var db = await factory.CreateDbContextAsync(ct);
        return await db.IngestionIssues.IgnoreQueryFilters().CountAsync(i => i.TeamId == teamId && i.Hour == hour, ct);
    }

    public async Task<IReadOnlySet<string>> FindGroupKeysAsync(Guid teamId, DateTimeOffset hour, IReadOnlyCollection<string> groupKeys, CancellationToken ct = default)
    {
        var keys = groupKeys.ToList();
        await using var db = await factory.CreateDbContextAsync(ct);
        var found = await db.IngestionIssues.IgnoreQueryFilters()
            .Where(i => i.TeamId == teamId && i.Hour == hour && keys.Contains(i.GroupKey))
            .Select(i => i.GroupKey)
            .ToListAsync(ct);
        return found.ToHashSet(StringComparer.Ordinal);
    }

    public async Task<int> DeleteLastSeenBeforeAsync(DateTimeOffset cutoff, CancellationToken ct = default)
    {
        await using var db = await factory.CreateDbContextAsync(ct);
        return await db.IngestionIssues.IgnoreQueryFilters().Where(i => i.LastSeenAt < cutoff).ExecuteDeleteAsync(ct);
    }

    public async Task UpsertAsync(IReadOnlyList<BufferedIssue> rows, CancellationToken ct = default)
    {
        if (rows.Count == 0)
        {
            return;
        }

        // A fixed order: two nodes upserting overlapping rows lock them in the same order.
        var ordered = rows.OrderBy(r => r.TeamId).ThenBy(r => r.Hour).ThenBy(r => r.GroupKey, StringComparer.Ordinal).ToList();
        await using var db = await factory.CreateDbContextAsync(ct);
        await using var transaction = await db.Database.BeginTransactionAsync(ct);
        var connection = db.Database.GetDbConnection();
        foreach (var chunk in ordered.Chunk(RowsPerStatement))
        {
            await using var command = connection.CreateCommand();
            command.Transaction = transaction.GetDbTransaction();
            command.CommandText = UpsertSql(chunk.Length);
            foreach (var row in chunk)
            {
                Add(command, Value(Uuid7.Create(row.FirstSeenAt)));
                Add(command, Value(row.TeamId));
                Add(command, Value(row.Hour));
                Add(command, (int)row.Door);
                Add(command, (int)row.Kind);
                Add(command, row.Field);
                Add(command, row.Reason);
                Add(command, row.TraceKey);
                Add(command, row.SpanKey);
                Add(command, row.GroupKey);
                Add(command, row.Count);
                Add(command, Value(row.FirstSeenAt));
                Add(command, Value(row.LastSeenAt));
            }

            await command.ExecuteNonQueryAsync(ct);
        }

        await transaction.CommitAsync(ct);
    }

    /// <summary>The larger of two values (PostgreSQL <c>GREATEST</c>, SQLite's two-argument <c>MAX</c>).</summary>
    protected abstract string Greatest(string a, string b);

    /// <summary>The count after adding, capped at the column's range (a row counted past it stays at the maximum).</summary>
    protected abstract string AddedCount(string existing, string added);

    protected abstract object Value(Guid value);

    protected abstract object Value(DateTimeOffset value);

    internal string UpsertSql(int rowCount)
    {
        var sql = new StringBuilder("INSERT INTO ingestion_issues (");
        sql.AppendJoin(", ", Columns.Select(c => $"\"{c}\"")).Append(") VALUES ");
        for (var r = 0; r < rowCount; r++)
        {
            sql.Append(r == 0 ? "(" : ", (");
            for (var c = 0; c < Columns.Length; c++)
            {
                sql.Append(c == 0 ? "" : ", ").Append(CultureInfo.InvariantCulture, $"@p{(r * Columns.Length) + c}");
            }

            sql.Append(')');
        }

        sql.Append(" ON CONFLICT (\"TeamId\", \"Hour\", \"GroupKey\") DO UPDATE SET ")
            .Append("\"Count\" = ").Append(AddedCount("ingestion_issues.\"Count\"", "excluded.\"Count\"")).Append(", ")
            .Append("\"LastSeenAt\" = ").Append(Greatest("ingestion_issues.\"LastSeenAt\"", "excluded.\"LastSeenAt\""));
        return sql.ToString();
    }

    private static void Add(DbCommand command, object? value)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = string.Create(CultureInfo.InvariantCulture, $"@p{command.Parameters.Count}");
        parameter.Value = value ?? DBNull.Value;
        command.Parameters.Add(parameter);
    }
}

internal sealed class PostgresIngestionIssueStore(IDbContextFactory<EvalDbContext> factory) : IngestionIssueStore(factory)
{
    protected override string Greatest(string a, string b) => $"GREATEST({a}, {b})";

    protected override string AddedCount(string existing, string added) => $"LEAST({existing}::bigint + {added}, 2147483647)::integer";

    protected override object Value(Guid value) => value;

    protected override object Value(DateTimeOffset value) => value.ToUniversalTime();
}

internal sealed class SqliteIngestionIssueStore(IDbContextFactory<EvalDbContext> factory) : IngestionIssueStore(factory)
{
    // How SqliteEvalDbContext stores every DateTimeOffset (see its conventions).
    private static readonly DateTimeOffsetToBinaryConverter Times = new();

    protected override string Greatest(string a, string b) => $"MAX({a}, {b})";

    protected override string AddedCount(string existing, string added) => $"MIN({existing} + {added}, 2147483647)";

    // EF's SQLite provider stores a Guid as upper-case text.
    protected override object Value(Guid value) => value.ToString().ToUpperInvariant();

    protected override object Value(DateTimeOffset value) => Times.ConvertToProvider(value.ToUniversalTime())!;
}
