using System.Collections.Concurrent;
using System.Linq.Expressions;
using System.Reflection;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Notifications;
using EvalPlatform.Core.Traces;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace EvalPlatform.Data.Ingestion;

/// <summary>PostgreSQL: binary COPY of traces and spans, in the group's transaction.</summary>
internal sealed class PostgresTraceStore(
    IDbContextFactory<EvalDbContext> factory, IStoreErrors errors, ILogger<PostgresTraceStore> logger, TraceCreatedSubscribers subscribers, NotificationOutbox outbox)
    : TraceStore(factory, errors, logger, subscribers, outbox)
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
/// so the COPY stays in step with the mapping and its migrations. The column list and a typed
/// writer per column (property read, value converter, null check, <c>Write&lt;T&gt;</c>: nothing
/// boxed, and Npgsql resolves each column's type once) are compiled once per entity type.
/// </summary>
internal static class BinaryCopy
{
    private static readonly ConcurrentDictionary<IEntityType, Plan> Plans = new();

    public static async Task WriteAsync<T>(NpgsqlConnection connection, IEntityType entityType, IEnumerable<T> rows, CancellationToken ct)
        where T : class
    {
        var plan = Plans.GetOrAdd(entityType, static e => Plan.For(e));
        await using var importer = await connection.BeginBinaryImportAsync(plan.Sql, ct);
        foreach (var row in rows)
        {
            // Synchronous writes: they only fill Npgsql's buffer (its flush to the socket is rare
            // and does not wait for the server), and an await per value cost more than the value.
            importer.StartRow();
            foreach (var write in plan.Columns)
            {
                write(importer, row);
            }
        }

        await importer.CompleteAsync(ct);
    }

    private sealed record Plan(string Sql, Action<NpgsqlBinaryImporter, object>[] Columns)
    {
        private static readonly MethodInfo WriteOf = typeof(NpgsqlBinaryImporter).GetMethods()
            .Single(m => m is { Name: nameof(NpgsqlBinaryImporter.Write), IsGenericMethodDefinition: true }
                         && m.GetParameters() is [_, { ParameterType: var second }] && second == typeof(string));

        private static readonly MethodInfo WriteNull = typeof(NpgsqlBinaryImporter).GetMethod(nameof(NpgsqlBinaryImporter.WriteNull), Type.EmptyTypes)!;

        public static Plan For(IEntityType entityType)
        {
            var table = StoreObjectIdentifier.Table(entityType.GetTableName()!, entityType.GetSchema());
            var properties = entityType.GetProperties().ToList();
            var sql = $"COPY \"{table.Name}\" ({string.Join(", ", properties.Select(p => $"\"{p.GetColumnName(table)}\""))}) FROM STDIN (FORMAT BINARY)";
            return new Plan(sql, properties.Select(Writer).ToArray());
        }

        // (importer, row) => { var v = ((TEntity)row).Property; if (v == null) importer.WriteNull(); else importer.Write(convert(v), "type"); }
        private static Action<NpgsqlBinaryImporter, object> Writer(IProperty property)
        {
            var importer = Expression.Parameter(typeof(NpgsqlBinaryImporter), "importer");
            var row = Expression.Parameter(typeof(object), "row");
            var info = property.PropertyInfo!;
            var value = Expression.Variable(info.PropertyType, "value");
            var read = Expression.Assign(value, Expression.Property(Expression.Convert(row, info.DeclaringType!), info));

            var underlying = Nullable.GetUnderlyingType(info.PropertyType);
            Expression? isNull = underlying is not null ? Expression.Not(Expression.Property(value, nameof(Nullable<int>.HasValue)))
                : info.PropertyType.IsValueType ? null
                : Expression.ReferenceEqual(value, Expression.Constant(null, info.PropertyType));
            Expression stored = underlying is not null ? Expression.Property(value, nameof(Nullable<int>.Value)) : value;
            if (property.GetTypeMapping().Converter is { } converter)
            {
                stored = Expression.Invoke(converter.ConvertToProviderExpression, Expression.Convert(stored, converter.ModelClrType));
            }

            var dataType = DataTypeName(property.GetRelationalTypeMapping().StoreType);
            Expression write = Expression.Call(importer, WriteOf.MakeGenericMethod(stored.Type), stored, Expression.Constant(dataType));
            if (isNull is not null)
            {
                write = Expression.IfThenElse(isNull, Expression.Call(importer, WriteNull), write);
            }

            var body = Expression.Block([value], read, write);
            return Expression.Lambda<Action<NpgsqlBinaryImporter, object>>(body, importer, row).Compile();
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
