using System.Data.Common;
using EvalPlatform.Core.Analytics;
using EvalPlatform.Core.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Npgsql;

namespace EvalPlatform.Data.Queries.Analytics;

/// <summary>
/// PostgreSQL's set-based fold of traces into <see cref="MetricAggregate"/>s, the SQL twin of
/// <see cref="RawTraceAggregator"/>: five grouped queries in one batch — sums and counts, histogram bucket counts
/// (⌈ln x / ln γ⌉ computed in SQL as <see cref="LatencyHistogram"/> does), rejection reasons, named scores, human
/// score counts — so traces
/// never travel to the app one by one. The caller gives the source (a subquery aliased <c>t</c> exposing its key
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
            await using var batch = new NpgsqlBatch(connection, transaction);
            batch.BatchCommands.Add(Command($"""
                SELECT {group}, count(*), count("Error"), coalesce(sum("PromptTokens"), 0)::bigint, coalesce(sum("CompletionTokens"), 0)::bigint,
                       coalesce(sum("Cost"), 0), coalesce(sum(("Cost" * "Cost")::float8), 0),
                       count(*) FILTER (WHERE "ReviewStatus" = 1), count(*) FILTER (WHERE "ReviewStatus" = 2), count(*) FILTER (WHERE "ReviewStatus" = 3),
                       coalesce(sum("HumanScore"), 0), count("HumanScore"), coalesce(sum("HumanScore" * "HumanScore"), 0)
                FROM {source} GROUP BY {group}
                """));
            batch.BatchCommands.Add(Command($"""
                SELECT {group}, h.kind, CASE WHEN h.v <= @zero THEN NULL ELSE ceil(ln(h.v) / @loggamma)::int END, count(*)
                FROM {source} CROSS JOIN LATERAL (VALUES (0, t."LatencyMs"), (1, t."TimeToFirstTokenMs")) AS h(kind, v)
                WHERE h.v IS NOT NULL
                GROUP BY {group}, {k + 1}, {k + 2}
                """));
            batch.BatchCommands.Add(Command($"""
                SELECT {group}, coalesce("ReviewReason", ''), count(*) FROM {source} WHERE "ReviewStatus" = 2 GROUP BY {group}, {k + 1}
                """));
            batch.BatchCommands.Add(Command($"""
                SELECT {group}, s."Name", sum(s."NumericValue"), count(*)
                FROM {source} JOIN scores s ON s."TraceId" = t."Id" AND s."TeamId" = @scoreteam
                WHERE s."NumericValue" IS NOT NULL GROUP BY {group}, {k + 1}
                """));

            // The human score distribution: per score to the hundredth, as MetricAggregate.HumanScoreHundredths bins it.
            batch.BatchCommands.Add(Command($"""
                SELECT {group}, round("HumanScore"::numeric * 100)::bigint, count(*) FROM {source} WHERE "HumanScore" IS NOT NULL GROUP BY {group}, {k + 1}
                """));

            NpgsqlBatchCommand Command(string sql)
            {
                var command = new NpgsqlBatchCommand(sql);
                foreach (var (name, value) in parameters)
                {
                    command.Parameters.AddWithValue(name, value);
                }

                command.Parameters.AddWithValue("zero", LatencyHistogram.MinValue);
                command.Parameters.AddWithValue("loggamma", Math.Log(LatencyHistogram.Gamma));
                command.Parameters.AddWithValue("scoreteam", teamId);
                return command;
            }

            await using var reader = await batch.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                var a = Cell(reader);
                a.Traces = reader.GetInt64(k);
                a.Errors = reader.GetInt64(k + 1);
                a.PromptTokens = reader.GetInt64(k + 2);
                a.CompletionTokens = reader.GetInt64(k + 3);
                a.Cost = reader.GetDecimal(k + 4);
                a.CostSquares = reader.GetDouble(k + 5);
                a.Accepted = reader.GetInt64(k + 6);
                a.Rejected = reader.GetInt64(k + 7);
                a.NeedsReview = reader.GetInt64(k + 8);
                a.HumanScoreSum = reader.GetDouble(k + 9);
                a.HumanScoreCount = reader.GetInt64(k + 10);
                a.HumanScoreSquares = reader.GetDouble(k + 11);
            }

            await reader.NextResultAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                var a = Cell(reader);
                var histogram = reader.GetInt32(k) == 0 ? a.Latency : a.TimeToFirstToken;
                histogram.AddToBucket(reader.IsDBNull(k + 1) ? null : reader.GetInt32(k + 1), reader.GetInt64(k + 2));
            }

            await reader.NextResultAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                Cell(reader).RejectionReasons[reader.GetString(k)] = reader.GetInt64(k + 1);
            }

            await reader.NextResultAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                Cell(reader).Scores[reader.GetString(k)] = new ScoreTotal(reader.GetDouble(k + 1), reader.GetInt64(k + 2));
            }

            await reader.NextResultAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                var scores = Cell(reader).HumanScores;
                var key = MetricAggregate.HumanScoreKey(reader.GetInt64(k));
                scores[key] = scores.GetValueOrDefault(key) + reader.GetInt64(k + 1);
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
