using EvalPlatform.Core.Common;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Live;
using EvalPlatform.Core.Providers;
using EvalPlatform.Core.Queues;
using EvalPlatform.Core.Scores;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Core.Traces;
using Microsoft.EntityFrameworkCore;

namespace EvalPlatform.Core.Evaluators;

/// <summary>One trace's judgement: scored (with the value), failed or skipped, with the reason.</summary>
public sealed record JudgeOutcome(JudgeOutcomeKind Kind, string? Reason = null, double? Value = null)
{
    public const string BudgetReached = "budget reached";
}

public enum JudgeOutcomeKind
{
    Scored,
    Failed,

    /// <summary>Not sent to the judge: the daily budget is reached.</summary>
    Skipped,
}

/// <summary>
/// Judges traces of the team in context (a member, a key, or a job acting for the team): the rubric filled from the trace,
/// one call through <see cref="ILlmChat"/> (recorded as the team's provider usage, source evaluator), the answer read as a
/// verdict or refused with its reason (never a guessed score), the score stored idempotently per (evaluator, trace): a new
/// judgement replaces the evaluator's earlier score on that trace. Spending is counted per evaluator and UTC day.
/// </summary>
public sealed class EvaluatorJudge(IEvalDbContextFactory dbFactory, ITeamContext team, IProviderConnections connections, ILlmChat chat,
    IJudgeInputs inputs, ILiveBus live, TimeProvider clock)
{
    /// <summary>New traces younger than this are left for the next run (a batch may still be committing around them).</summary>
    public static readonly TimeSpan SettleTime = TimeSpan.FromSeconds(5);

    /// <summary>New traces considered per evaluator per run.</summary>
    public const int NewTracesPerRun = 200;

    public async Task<JudgeOutcome> JudgeAsync(Evaluator evaluator, Guid traceId, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(evaluator);
        var teamId = team.TeamId ?? throw new InvalidOperationException("Judging needs a team in context.");
        if (await BudgetReachedAsync(evaluator.Id, ct))
        {
            return new JudgeOutcome(JudgeOutcomeKind.Skipped, JudgeOutcome.BudgetReached);
        }

        var provider = await connections.FindAsync(evaluator.ConnectionId, ct);
        if (provider is null)
        {
            return new JudgeOutcome(JudgeOutcomeKind.Failed, "The evaluator's provider connection no longer exists.");
        }

        Trace? trace;
        List<Span> spans;
        await using (var db = await dbFactory.CreateAsync(ct))
        {
            trace = await db.Traces.AsNoTracking().SingleOrDefaultAsync(t => t.Id == traceId, ct);
            spans = trace is null ? [] : await db.Spans.AsNoTracking().Where(s => s.TraceId == traceId).OrderBy(s => s.Position).ToListAsync(ct);
        }

        if (trace is null)
        {
            return new JudgeOutcome(JudgeOutcomeKind.Failed, $"Trace {traceId} does not exist (any more).");
        }

        var prompt = JudgePrompt.Render(evaluator.Prompt, inputs.From(trace, spans));
        LlmChatResult answer;
        try
        {
            answer = await chat.CompleteAsync(provider, new LlmChatRequest(
                evaluator.Model, JudgePrompt.Instructions(evaluator.Output), [new LlmMessage("user", prompt)],
                MaxTokens: 1024, JsonResponse: true, Source: ProviderCallSource.Evaluator), ct);
        }
        catch (LlmCallException e)
        {
            return new JudgeOutcome(JudgeOutcomeKind.Failed, $"The judge's provider refused the call{(e.Status is { } s ? $" ({s})" : "")}: {e.Message}");
        }

        await AddSpendAsync(evaluator.Id, answer.Cost ?? 0m, ct);
        var verdict = JudgePrompt.Parse(answer.Text, evaluator.Output, out var problem);
        if (verdict is null)
        {
            return new JudgeOutcome(JudgeOutcomeKind.Failed, problem);
        }

        await StoreAsync(teamId, evaluator, traceId, verdict, ct);
        await live.PublishAsync(new TraceUpdated(teamId, traceId), CancellationToken.None);
        return new JudgeOutcome(JudgeOutcomeKind.Scored, null, verdict.Value);
    }

    /// <summary>
    /// The minute job's work for one evaluator: the traces created since its watermark that match its filter and fall in its
    /// sample, oldest first, judged until the budget is reached (the rest are skipped, "budget reached"); the watermark moves
    /// past every trace considered. Returns how many were judged and how many failed or were skipped.
    /// </summary>
    public async Task<(int Scored, int NotScored)> JudgeNewTracesAsync(Guid evaluatorId, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateAsync(ct);
        var evaluator = await db.Evaluators.AsNoTracking().SingleOrDefaultAsync(e => e.Id == evaluatorId, ct);
        if (evaluator is not { Enabled: true, OnNewTraces: true })
        {
            return (0, 0);
        }

        var cutoff = clock.GetUtcNow() - SettleTime;
        var watermark = evaluator.Watermark;
        var candidates = await TraceQueries.Apply(db.Traces.AsNoTracking(), QueueFilterJson.Read(evaluator.FilterJson))
            .Where(t => t.CreatedAt > watermark && t.CreatedAt <= cutoff)
            .OrderBy(t => t.CreatedAt).Select(t => new { t.Id, t.CreatedAt }).Take(NewTracesPerRun).ToListAsync(ct);
        if (candidates.Count == 0)
        {
            return (0, 0);
        }

        // A full page may cut through traces created in the same instant: leave that instant for the next run, whole.
        if (candidates.Count == NewTracesPerRun && candidates[0].CreatedAt != candidates[^1].CreatedAt)
        {
            var last = candidates[^1].CreatedAt;
            candidates = candidates.Where(c => c.CreatedAt != last).ToList();
        }

        int scored = 0, notScored = 0;
        string? lastError = null;
        foreach (var candidate in candidates.Where(c => QueueSampling.InSample(evaluator.Id, c.Id, evaluator.SamplePercent)))
        {
            var outcome = await JudgeAsync(evaluator, candidate.Id, ct);
            if (outcome.Kind == JudgeOutcomeKind.Scored)
            {
                scored++;
            }
            else
            {
                notScored++;
                lastError = outcome.Reason;
            }
        }

        var moved = candidates[^1].CreatedAt;
        lastError = lastError is { Length: > 2000 } ? lastError[..2000] : lastError;
        await db.Evaluators.Where(e => e.Id == evaluatorId).ExecuteUpdateAsync(s => s
            .SetProperty(e => e.Watermark, moved)
            .SetProperty(e => e.LastError, e => lastError ?? e.LastError), ct);
        return (scored, notScored);
    }

    /// <summary>Today's (UTC) spending of the evaluator, in USD.</summary>
    public static double SpentOn(Evaluator evaluator, DateTimeOffset today) => evaluator.SpentDay == today ? evaluator.SpentToday : 0;

    public DateTimeOffset Today()
    {
        var now = clock.GetUtcNow();
        return new DateTimeOffset(now.UtcDateTime.Date, TimeSpan.Zero);
    }

    private async Task<bool> BudgetReachedAsync(Guid evaluatorId, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateAsync(ct);
        var row = await db.Evaluators.AsNoTracking().Where(e => e.Id == evaluatorId)
            .Select(e => new { e.DailyBudgetUsd, e.SpentDay, e.SpentToday }).SingleOrDefaultAsync(ct);
        return row is { DailyBudgetUsd: { } budget } && row.SpentDay == Today() && (decimal)row.SpentToday >= budget;
    }

    // One statement, so concurrent judgements (two runs, two nodes) add up instead of overwriting each other.
    private async Task AddSpendAsync(Guid evaluatorId, decimal cost, CancellationToken ct)
    {
        var today = Today();
        var amount = (double)cost;
        await using var db = await dbFactory.CreateAsync(ct);
        await db.Evaluators.Where(e => e.Id == evaluatorId).ExecuteUpdateAsync(s => s
            .SetProperty(e => e.SpentToday, e => e.SpentDay == today ? e.SpentToday + amount : amount)
            .SetProperty(e => e.SpentDay, today), CancellationToken.None);
    }

    private async Task StoreAsync(Guid teamId, Evaluator evaluator, Guid traceId, JudgeVerdict verdict, CancellationToken ct)
    {
        var author = Evaluator.AuthorOf(evaluator.Id);
        var now = clock.GetUtcNow();
        await using var db = await dbFactory.CreateAsync(ct);
        var earlier = await db.Scores.Where(s => s.TraceId == traceId && s.Source == ScoreSource.Evaluator && s.Author == author).ToListAsync(ct);
        db.Scores.RemoveRange(earlier);
        var pass = evaluator.Output == EvaluatorOutput.PassFail;
        db.Scores.Add(new Score
        {
            Id = Uuid7.Create(now),
            TeamId = teamId,
            TraceId = traceId,
            Name = evaluator.Name,
            DataType = pass ? ScoreDataType.Boolean : ScoreDataType.Numeric,
            NumericValue = verdict.Value,
            StringValue = pass ? (verdict.Value == 1 ? "true" : "false") : null,
            Source = ScoreSource.Evaluator,
            Author = author,
            Comment = verdict.Reasoning.Length > MaxReasoning ? verdict.Reasoning[..MaxReasoning] : verdict.Reasoning,
            CreatedAt = now,
        });
        await db.SaveChangesAsync(ct);
    }

    /// <summary>The longest reasoning kept on a score.</summary>
    public const int MaxReasoning = 4000;
}
