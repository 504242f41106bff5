using System.Globalization;
using EvalPlatform.Core.Batches;
using EvalPlatform.Core.Common;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Evaluators;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Traces;
using Microsoft.EntityFrameworkCore;

namespace EvalPlatform.Core.Playground;

/// <summary>What a playground batch runs over: a review queue's traces or the traces a trace-list filter gives; exactly one.</summary>
public sealed record PlaygroundBatchSource(Guid? QueueId = null, TraceFilter? Filter = null);

/// <summary>One original trace of a batch beside what each configuration answered for it.</summary>
public sealed record PlaygroundBatchRow(
    int Position, Guid TraceId, string? TraceName, string? OriginalModel, string? OriginalInput, string? OriginalOutput, bool TraceExists,
    IReadOnlyList<PlaygroundBatchResult> Results);

/// <summary>A page of a batch's comparison: its configurations (for the columns), the rows in the run's order, the next cursor.</summary>
public sealed record PlaygroundBatchPage(IReadOnlyList<PlaygroundConfig> Configs, IReadOnlyList<PlaygroundBatchRow> Rows, string? NextCursor);

/// <summary>
/// Playground batches of the current team: start one over a queue or a filter (<see cref="Permission.UsePlayground"/>; the
/// prompt and configurations are checked as a run checks them, the traces fixed at the start), and read its comparison
/// (<see cref="Permission.ViewTraces"/>, like a run's progress). Progress and cancel are the batch run's (<see cref="BatchRuns"/>).
/// </summary>
public sealed class PlaygroundBatchService(IEvalDbContextFactory dbFactory, IMemberDirectory members, PlaygroundService playground, BatchRuns batches)
{
    /// <summary>The most traces one batch runs over (a filter that gives more runs over its newest this many).</summary>
    public const int MaxTraces = 1000;

    public const int MaxPageSize = 100;

    /// <summary>Checks the prompt, configurations and source, fixes the traces and starts the batch; returns its run's id.</summary>
    public async Task<Guid> StartAsync(PlaygroundPrompt prompt, IReadOnlyList<PlaygroundConfig> configs, PlaygroundBatchSource source, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        await playground.CheckAsync(prompt, configs, ct);
        if ((source.QueueId is null) == (source.Filter is null))
        {
            throw new DomainValidationException("source", "Give either source.queue_id or source.filter, not both or neither.");
        }

        List<Guid> traceIds;
        string title;
        await using (var db = await dbFactory.CreateAsync(ct))
        {
            if (source.QueueId is { } queueId)
            {
                var queue = await db.ReviewQueues.AsNoTracking().SingleOrDefaultAsync(q => q.Id == queueId, ct)
                    ?? throw new DomainValidationException("source.queue_id", "No review queue with this id in this team.");
                traceIds = (await EvaluatorService.QueueTracesAsync(db, queue, ct)).Take(MaxTraces).ToList();
                if (traceIds.Count == 0)
                {
                    throw new DomainValidationException("source.queue_id", $"The queue '{queue.Name}' has no traces.");
                }

                title = $"Prompt on queue {queue.Name}";
            }
            else
            {
                var filter = await TraceQueries.ResolveReviewerAsync(source.Filter!, members, ct);
                traceIds = await TraceQueries.Apply(db.Traces.AsNoTracking(), filter).OrderByDescending(t => t.SortKey).Select(t => t.Id).Take(MaxTraces).ToListAsync(ct);
                if (traceIds.Count == 0)
                {
                    throw new DomainValidationException("source.filter", "No trace matches this filter.");
                }

                title = traceIds.Count == MaxTraces
                    ? $"Prompt on the newest {MaxTraces} traces of a filter"
                    : $"Prompt on {traceIds.Count} trace{(traceIds.Count == 1 ? "" : "s")} of a filter";
            }
        }

        var configured = configs.Select(c => c with { Model = c.Model.Trim() }).ToList();
        title = Clip($"{title} × {configured.Count} configuration{(configured.Count == 1 ? "" : "s")}", BatchRuns.MaxTitle);
        return await batches.StartAsync(new BatchRunStart(PlaygroundBatchHandler.BatchKind, title,
            PlaygroundBatchHandler.Write(new PlaygroundBatchHandler.Payload(prompt, configured, traceIds)), traceIds.Count * configured.Count), ct);
    }

    /// <summary>The team's playground batches, newest first.</summary>
    public Task<IReadOnlyList<BatchRun>> ListAsync(int take = 20, CancellationToken ct = default) =>
        batches.ListAsync(PlaygroundBatchHandler.BatchKind, null, take, ct);

    /// <summary>
    /// A page of the batch's comparison in the run's order: up to <paramref name="limit"/> original traces after
    /// <paramref name="cursor"/>, each with its results so far. Another team's batch, or a run of another kind, is not found.
    /// </summary>
    public async Task<PlaygroundBatchPage> ResultsAsync(Guid runId, string? cursor, int limit, CancellationToken ct = default)
    {
        var run = await batches.GetAsync(runId, ct);
        if (run.Kind != PlaygroundBatchHandler.BatchKind)
        {
            throw new NotFoundException("No playground batch with this id.");
        }

        if (limit is < 1 or > MaxPageSize)
        {
            throw new DomainValidationException("limit", $"Between 1 and {MaxPageSize}.");
        }

        var after = -1;
        if (cursor is not null && (!int.TryParse(cursor, NumberStyles.None, CultureInfo.InvariantCulture, out after) || after < 0))
        {
            throw new DomainValidationException("cursor", "A cursor from a previous page's next_cursor.");
        }

        var configs = PlaygroundBatchHandler.Read(run.Payload).Configs;
        await using var db = await dbFactory.CreateAsync(ct);
        var positions = await db.PlaygroundBatchResults.AsNoTracking().Where(r => r.BatchRunId == runId && r.Position > after)
            .Select(r => r.Position).Distinct().OrderBy(p => p).Take(limit + 1).ToListAsync(ct);
        var page = positions.Take(limit).ToList();
        var results = await db.PlaygroundBatchResults.AsNoTracking().Where(r => r.BatchRunId == runId && page.Contains(r.Position)).ToListAsync(ct);
        var traceIds = results.Select(r => r.TraceId).Distinct().ToList();
        var originals = await db.Traces.AsNoTracking().Where(t => traceIds.Contains(t.Id))
            .Select(t => new { t.Id, t.Name, t.Model, t.InputPreview, t.OutputPreview }).ToDictionaryAsync(t => t.Id, ct);
        var rows = results.GroupBy(r => r.Position).OrderBy(g => g.Key).Select(g =>
        {
            var traceId = g.First().TraceId;
            var original = originals.GetValueOrDefault(traceId);
            return new PlaygroundBatchRow(g.Key, traceId, original?.Name, original?.Model, original?.InputPreview, original?.OutputPreview, original is not null,
                g.OrderBy(r => r.Configuration).ToList());
        }).ToList();
        var next = positions.Count > limit ? page[^1].ToString(CultureInfo.InvariantCulture) : null;
        return new PlaygroundBatchPage(configs, rows, next);
    }

    private static string Clip(string text, int max) => text.Length > max ? text[..max] : text;
}
