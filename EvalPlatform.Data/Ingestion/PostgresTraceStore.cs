using System.Collections.Concurrent;
using System.Linq.Expressions;
using System.Reflection;
using EvalPlatform.Core.Traces;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;
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
/// so the COPY stays in step with the mapping and its migrations. The column list and the
/// compiled property getters are worked out once per entity type.
/// </summary>
internal static class BinaryCopy
{
    private static readonly ConcurrentDictionary<IEntityType, Plan> Plans = new();

    public static async Task WriteAsync<T>(NpgsqlConnection connection, IEntityType entityType, IEnumerable<T> rows, CancellationToken ct)
    {
        var plan = Plans.GetOrAdd(entityType, static e => Plan.For(e));
        await using var importer = await connection.BeginBinaryImportAsync(plan.Sql, ct);
        foreach (var row in rows)
        {
            // Synchronous writes: they only fill Npgsql's buffer (its flush to the socket is rare
            // and does not wait for the server), and an await per value cost more than the value.
            importer.StartRow();
            foreach (var column in plan.Columns)
            {
                var value = column.Get(row!);
                if (value is not null && column.Converter is not null)
                {
                    value = column.Converter.ConvertToProvider(value);
                }

                if (value is null)
                {
                    importer.WriteNull();
                }
                else
                {
                    importer.Write(value, column.DataType);
                }
            }
        }

        await importer.CompleteAsync(ct);
    }

    private sealed record Column(string Name, string DataType, ValueConverter? Converter, Func<object, object?> Get);

    private sealed record Plan(string Sql, IReadOnlyList<Column> Columns)
    {
        public static Plan For(IEntityType entityType)
        {
            var table = StoreObjectIdentifier.Table(entityType.GetTableName()!, entityType.GetSchema());
            var columns = entityType.GetProperties()
                .Select(p => new Column(
                    p.GetColumnName(table)!,
                    DataTypeName(p.GetRelationalTypeMapping().StoreType),
                    p.GetTypeMapping().Converter,
                    Getter(p.PropertyInfo!)))
                .ToList();
            var sql = $"COPY \"{table.Name}\" ({string.Join(", ", columns.Select(c => $"\"{c.Name}\""))}) FROM STDIN (FORMAT BINARY)";
            return new Plan(sql, columns);
        }

        // row => (object?)((TEntity)row).Property
        private static Func<object, object?> Getter(PropertyInfo property)
        {
            var row = Expression.Parameter(typeof(object), "row");
            var read = Expression.Property(Expression.Convert(row, property.DeclaringType!), property);
            return Expression.Lambda<Func<object, object?>>(Expression.Convert(read, typeof(object)), row).Compile();
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
    }
}
