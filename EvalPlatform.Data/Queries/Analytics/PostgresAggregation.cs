using System.Data.Common;
using EvalPlatform.Core.Analytics;
using EvalPlatform.Core.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Npgsql;

namespace EvalPlatform.Data.Queries.Analytics;

/// <summary>
/// PostgreSQL's set-based fold of traces into <see cref="MetricAggregate"/>s, the SQL twin of
/// <see cref="RawTraceAggregator"/>: five grouped folds in one statement over the source read once — sums and counts,
/// histogram bucket counts (⌈ln x / ln γ⌉ computed in SQL as <see cref="LatencyHistogram"/> does), rejection reasons,
/// named scores, human score counts — so traces never travel to the app one by one. The caller gives the source (a subquery aliased <c>t</c> exposing its key
/// columns and the trace columns metrics read, already limited to one team) and the key columns; both are SQL the
/// caller writes from constants, values travel as parameters.
/// </summary>
internal static class PostgresAggregation
{
    /// <summary>The trace columns every source must expose, after its key columns.</summary>
    public const string TraceColumns =
        "\"Id\", \"Error\", \"PromptTokens\", \"CompletionTokens\", \"Cost\", \"LatencyMs\", \"TimeToFirstTokenMs\", \"ReviewStatus\", \"ReviewReason\", \"HumanScore\"";

    public static async Task<Dictionary<TKey, MetricAggregate>> AggregateAsync<TKey>(
        IEvalDbContext db, string source, IReadOnlyList<string> keys, Func<DbDataReader, TKey> readKey,
        IReadOnlyList<(string Name, object Value)> parameters, Guid teamId, CancellationToken ct)
        where TKey : notnull
    {
        var k = keys.Count;
        var group = string.Join(", ", keys);
        var cells = new Dictionary<TKey, MetricAggregate>();
        MetricAggregate Cell(DbDataReader r)
        {
            var key = readKey(r);
            if (!cells.TryGetValue(key, out var a))
            {
                cells[key] = a = new MetricAggregate();
            }

            return a;
        }

        var connection = (NpgsqlConnection)db.Database.GetDbConnection();
        var transaction = (NpgsqlTransaction?)db.Database.CurrentTransaction?.GetDbTransaction();
        await db.Database.OpenConnectionAsync(ct);
        try
        {
            // One statement: the source's rows are read once (a materialised CTE; the traces of a range are random heap
            // reads, the costly part) and the five folds are its UNION ALL, told apart by the part column after the keys:
            // 0 sums and counts, 1 histogram bucket counts, 2 rejection reasons, 3 named scores, 4 human scores per
            // hundredth (as MetricAggregate.HumanScoreHundredths bins them).
            const string Pad0 = "NULL::bigint, NULL::bigint, NULL::bigint, NULL::numeric, NULL::float8, NULL::bigint, NULL::bigint, NULL::bigint, NULL::float8, NULL::bigint, NULL::float8";
            var sql = $"""
                WITH t AS MATERIALIZED (SELECT * FROM {source})
                SELECT {group}, 0, NULL::text, NULL::int, NULL::int, count(*),
                       count("Error"), coalesce(sum("PromptTokens"), 0)::bigint, coalesce(sum("CompletionTokens"), 0)::bigint,
                       coalesce(sum("Cost"), 0), coalesce(sum(("Cost" * "Cost")::float8), 0),
                       count(*) FILTER (WHERE "ReviewStatus" = 1), count(*) FILTER (WHERE "ReviewStatus" = 2), count(*) FILTER (WHERE "ReviewStatus" = 3),
                       coalesce(sum("HumanScore"), 0), count("HumanScore"), coalesce(sum("HumanScore" * "HumanScore"), 0)
                FROM t GROUP BY {group}
                UNION ALL
                SELECT {group}, 1, NULL::text, h.kind, CASE WHEN h.v <= @zero THEN NULL ELSE ceil(ln(h.v) / @loggamma)::int END, count(*), {Pad0}
                FROM t CROSS JOIN LATERAL (VALUES (0, t."LatencyMs"), (1, t."TimeToFirstTokenMs")) AS h(kind, v)
                WHERE h.v IS NOT NULL
                GROUP BY {group}, h.kind, {k + 4}
                UNION ALL
                SELECT {group}, 2, coalesce("ReviewReason", ''), NULL::int, NULL::int, count(*), {Pad0}
                FROM t WHERE "ReviewStatus" = 2 GROUP BY {group}, coalesce("ReviewReason", '')
                UNION ALL
                SELECT {group}, 3, s."Name", NULL::int, NULL::int, count(*), NULL::bigint, NULL::bigint, NULL::bigint, NULL::numeric, sum(s."NumericValue"),
                       NULL::bigint, NULL::bigint, NULL::bigint, NULL::float8, NULL::bigint, NULL::float8
                FROM t JOIN scores s ON s."TraceId" = t."Id" AND s."TeamId" = @scoreteam
                WHERE s."NumericValue" IS NOT NULL GROUP BY {group}, s."Name"
                UNION ALL
                SELECT {group}, 4, NULL::text, NULL::int, round("HumanScore"::numeric * 100)::int, count(*), {Pad0}
                FROM t WHERE "HumanScore" IS NOT NULL GROUP BY {group}, {k + 4}
                """;
            await using var command = new NpgsqlCommand(sql, connection, transaction);
            foreach (var (name, value) in parameters)
            {
                command.Parameters.AddWithValue(name, value);
            }

            command.Parameters.AddWithValue("zero", LatencyHistogram.MinValue);
            command.Parameters.AddWithValue("loggamma", Math.Log(LatencyHistogram.Gamma));
            command.Parameters.AddWithValue("scoreteam", teamId);

            await using var reader = await command.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                var a = Cell(reader);
                var count = reader.GetInt64(k + 4);
                switch (reader.GetInt32(k))
                {
                    case 0:
                        a.Traces = count;
                        a.Errors = reader.GetInt64(k + 5);
                        a.PromptTokens = reader.GetInt64(k + 6);
                        a.CompletionTokens = reader.GetInt64(k + 7);
                        a.Cost = reader.GetDecimal(k + 8);
                        a.CostSquares = reader.GetDouble(k + 9);
                        a.Accepted = reader.GetInt64(k + 10);
                        a.Rejected = reader.GetInt64(k + 11);
                        a.NeedsReview = reader.GetInt64(k + 12);
                        a.HumanScoreSum = reader.GetDouble(k + 13);
                        a.HumanScoreCount = reader.GetInt64(k + 14);
                        a.HumanScoreSquares = reader.GetDouble(k + 15);
                        break;
                    case 1:
                        var histogram = reader.GetInt32(k + 2) == 0 ? a.Latency : a.TimeToFirstToken;
                        histogram.AddToBucket(reader.IsDBNull(k + 3) ? null : reader.GetInt32(k + 3), count);
                        break;
                    case 2:
                        a.RejectionReasons[reader.GetString(k + 1)] = count;
                        break;
                    case 3:
                        a.Scores[reader.GetString(k + 1)] = new ScoreTotal(reader.GetDouble(k + 9), count);
                        break;
                    default:
                        var key = MetricAggregate.HumanScoreKey(reader.GetInt32(k + 3));
                        a.HumanScores[key] = a.HumanScores.GetValueOrDefault(key) + count;
                        break;
                }
            }
        }
        finally
        {
            await db.Database.CloseConnectionAsync();
        }

        return cells;
    }

    public static string? NullableString(DbDataReader r, int i) => r.IsDBNull(i) ? null : r.GetString(i);
}
