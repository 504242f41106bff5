using EvalPlatform.Core.Traces;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace EvalPlatform.Data.Ingestion;

/// <summary>PostgreSQL: binary COPY of traces and spans, in the group's transaction.</summary>
internal sealed class PostgresTraceStore(IDbContextFactory<EvalDbContext> factory, ILogger<PostgresTraceStore> logger) : TraceStore(factory, logger)
{
    protected override async Task InsertAsync(EvalDbContext db, IReadOnlyList<Trace> traces, CancellationToken ct)
    {
        var connection = (NpgsqlConnection)db.Database.GetDbConnection();
        await BinaryCopy.WriteAsync(connection, db.Model.FindEntityType(typeof(Trace))!, traces, ct);
        await BinaryCopy.WriteAsync(connection, db.Model.FindEntityType(typeof(Span))!, traces.SelectMany(t => t.Spans), ct);
    }

    protected override bool IsUniqueViolation(Exception e) =>
        e is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation };
}

/// <summary>
/// Writes entities with Npgsql's binary importer, columns and types taken from the EF model,
/// so the COPY stays in step with the mapping and its migrations.
/// </summary>
internal static class BinaryCopy
{
    public static async Task WriteAsync<T>(NpgsqlConnection connection, IEntityType entityType, IEnumerable<T> rows, CancellationToken ct)
    {
        var table = StoreObjectIdentifier.Table(entityType.GetTableName()!, entityType.GetSchema());
        var columns = entityType.GetProperties()
            .Select(p => new Column(p, p.GetColumnName(table)!, DataTypeName(p.GetRelationalTypeMapping().StoreType), p.GetTypeMapping().Converter))
            .ToList();
        var sql = $"COPY \"{table.Name}\" ({string.Join(", ", columns.Select(c => $"\"{c.Name}\""))}) FROM STDIN (FORMAT BINARY)";
        await using var importer = await connection.BeginBinaryImportAsync(sql, ct);
        foreach (var row in rows)
        {
            await importer.StartRowAsync(ct);
            foreach (var column in columns)
            {
                var value = column.Property.PropertyInfo!.GetValue(row);
                if (value is not null && column.Converter is not null)
                {
                    value = column.Converter.ConvertToProvider(value);
                }

                if (value is null)
                {
                    await importer.WriteNullAsync(ct);
                }
                else
                {
                    await importer.WriteAsync(value, column.DataType, ct);
                }
            }
        }

        await importer.CompleteAsync(ct);
    }

    // "character varying(200)" -> "character varying", "numeric(18,8)" -> "numeric"; arrays keep "[]".
    private static string DataTypeName(string storeType)
    {
        var paren = storeType.IndexOf('(', StringComparison.Ordinal);
        if (paren < 0)
        {
            return storeType;
        }

        var close = storeType.IndexOf(')', paren);
        return (storeType[..paren] + storeType[(close + 1)..]).Trim();
    }

    private sealed record Column(IProperty Property, string Name, string DataType, Microsoft.EntityFrameworkCore.Storage.ValueConversion.ValueConverter? Converter);
}
