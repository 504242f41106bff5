using System.Globalization;
using System.Text.Json;
using EvalPlatform.Core.Batches;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Teams;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace EvalPlatform.Core.Evaluators;

/// <summary>
/// Runs an evaluator over a fixed list of traces (the selection, resolved when the run started) as a batch run of kind
/// <c>evaluator</c>: <see cref="ChunkSize"/> traces per chunk, the cursor is the next index. A failed judgement is a failed
/// item with its reason; once the daily budget is reached the run stops, the remaining items skipped as failed
/// ("budget reached"). Re-judging after a restart replaces the score (idempotent per evaluator and trace).
/// </summary>
public sealed class EvaluatorBatchHandler(IEvalDbContextFactory dbFactory, IServiceProvider services) : IBatchRunHandler
{
    public const string BatchKind = "evaluator";
    public const int ChunkSize = 5;

    public string Kind => BatchKind;

    public Permission Permission => Permission.ManageEvaluators;

    /// <summary>The run's payload: the evaluator and the traces, in order.</summary>
    public sealed record Payload(Guid EvaluatorId, IReadOnlyList<Guid> TraceIds);

    public static string Write(Payload payload) => JsonSerializer.Serialize(payload, JsonSerializerOptions.Web);

    public async Task<BatchChunkResult> ProcessChunkAsync(BatchChunk chunk, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(chunk);
        var payload = JsonSerializer.Deserialize<Payload>(chunk.Payload, JsonSerializerOptions.Web)
            ?? throw new InvalidOperationException("An evaluator run without a payload.");
        Evaluator? evaluator;
        await using (var db = await dbFactory.CreateAsync(ct))
        {
            evaluator = await db.Evaluators.AsNoTracking().SingleOrDefaultAsync(e => e.Id == payload.EvaluatorId, ct);
        }

        if (evaluator is null)
        {
            throw new InvalidOperationException("The evaluator was deleted.");
        }

        // Resolved here, not injected: every BatchRuns (a progress bar, a cancel) builds all handlers to find one's kind, and
        // only running a chunk needs the judge's model clients.
        var judge = services.GetRequiredService<EvaluatorJudge>();
        var from = chunk.Cursor is null ? 0 : int.Parse(chunk.Cursor, CultureInfo.InvariantCulture);
        var to = Math.Min(payload.TraceIds.Count, from + ChunkSize);
        int done = 0, failed = 0;
        string? lastError = null;
        for (var i = from; i < to; i++)
        {
            var outcome = await judge.JudgeAsync(evaluator, payload.TraceIds[i], ct);
            if (outcome.Kind == JudgeOutcomeKind.Scored)
            {
                done++;
                continue;
            }

            lastError = outcome.Reason;
            if (outcome.Kind == JudgeOutcomeKind.Skipped)
            {
                // The budget is reached: this and every remaining item are skipped, and the run stops here.
                return new BatchChunkResult(payload.TraceIds.Count.ToString(CultureInfo.InvariantCulture), done, failed + payload.TraceIds.Count - i, true,
                    JudgeOutcome.BudgetReached, payload.TraceIds.Count);
            }

            failed++;
        }

        return new BatchChunkResult(to.ToString(CultureInfo.InvariantCulture), done, failed, to >= payload.TraceIds.Count, lastError, payload.TraceIds.Count);
    }
}
