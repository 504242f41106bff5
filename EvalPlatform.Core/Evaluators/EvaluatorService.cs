using EvalPlatform.Core.Audit;
using EvalPlatform.Core.Batches;
using EvalPlatform.Core.Common;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Providers;
using EvalPlatform.Core.Queues;
using EvalPlatform.Core.Scores;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Core.Traces;
using Microsoft.EntityFrameworkCore;

namespace EvalPlatform.Core.Evaluators;

/// <summary>An evaluator with today's spending (UTC day), for lists and its page.</summary>
public sealed record EvaluatorView(Evaluator Evaluator, double SpentTodayUsd);

/// <summary>
/// The team's evaluators: list and read (<see cref="Permission.ViewTraces"/>), create, replace, delete and run on a selection
/// (<see cref="Permission.ManageEvaluators"/>), and the judge–human agreement. Changes are audited. A run is a batch run of
/// kind <see cref="EvaluatorBatchHandler.BatchKind"/> whose traces are fixed when it starts.
/// </summary>
public sealed class EvaluatorService(IEvalDbContextFactory dbFactory, ITeamContext team, IProviderConnections connections, BatchRuns batches,
    AuditLog audit, TimeProvider clock)
{
    public const int MaxName = 100;
    public const int MaxModel = 200;
    public const int MaxPrompt = 20_000;
    public const int MaxSelection = 5_000;

    public async Task<IReadOnlyList<EvaluatorView>> ListAsync(CancellationToken ct = default)
    {
        Require(Permission.ViewTraces);
        await using var db = await dbFactory.CreateAsync(ct);
        var rows = await db.Evaluators.AsNoTracking().OrderBy(e => e.Name).ToListAsync(ct);
        return rows.Select(View).ToList();
    }

    public async Task<EvaluatorView> GetAsync(Guid id, CancellationToken ct = default)
    {
        Require(Permission.ViewTraces);
        await using var db = await dbFactory.CreateAsync(ct);
        return View(await db.Evaluators.AsNoTracking().SingleOrDefaultAsync(e => e.Id == id, ct) ?? throw NotFound());
    }

    public async Task<EvaluatorView> CreateAsync(EvaluatorInput input, CancellationToken ct = default)
    {
        var teamId = Require(Permission.ManageEvaluators);
        var now = clock.GetUtcNow();
        var evaluator = new Evaluator
        {
            Id = Uuid7.Create(now),
            TeamId = teamId,
            Name = "",
            Model = "",
            Prompt = "",
            CreatedAt = now,
            CreatedBy = Actor(),
            // Judges the traces created from now on; older ones are judged by running it on a selection.
            Watermark = now,
        };
        await using var db = await dbFactory.CreateAsync(ct);
        await ApplyAsync(db, evaluator, input, ct);
        db.Evaluators.Add(evaluator);
        await SaveAsync(db, evaluator.Name, ct);
        await audit.RecordAsync(AuditActions.EvaluatorCreated, evaluator.Name, Details(evaluator), ct);
        return View(evaluator);
    }

    public async Task<EvaluatorView> UpdateAsync(Guid id, EvaluatorInput input, CancellationToken ct = default)
    {
        Require(Permission.ManageEvaluators);
        await using var db = await dbFactory.CreateAsync(ct);
        var evaluator = await db.Evaluators.SingleOrDefaultAsync(e => e.Id == id, ct) ?? throw NotFound();
        var wasOn = evaluator.Enabled && evaluator.OnNewTraces;
        await ApplyAsync(db, evaluator, input, ct);
        if (!wasOn && evaluator.Enabled && evaluator.OnNewTraces)
        {
            // Switched (back) on: new traces from now on, not everything that arrived while it was off.
            evaluator.Watermark = clock.GetUtcNow();
        }

        await SaveAsync(db, evaluator.Name, ct);
        await audit.RecordAsync(AuditActions.EvaluatorUpdated, evaluator.Name, Details(evaluator), ct);
        return View(evaluator);
    }

    /// <summary>Deletes the evaluator; the scores it gave stay on their traces (they are the team's results).</summary>
    public async Task DeleteAsync(Guid id, CancellationToken ct = default)
    {
        Require(Permission.ManageEvaluators);
        await using var db = await dbFactory.CreateAsync(ct);
        var evaluator = await db.Evaluators.SingleOrDefaultAsync(e => e.Id == id, ct) ?? throw NotFound();
        db.Evaluators.Remove(evaluator);
        await db.SaveChangesAsync(ct);
        await audit.RecordAsync(AuditActions.EvaluatorDeleted, evaluator.Name, null, ct);
    }

    /// <summary>Starts a batch run of the evaluator over the selection's traces; returns the run's id.</summary>
    public async Task<Guid> RunAsync(Guid id, EvaluatorSelection selection, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(selection);
        Require(Permission.ManageEvaluators);
        await using var db = await dbFactory.CreateAsync(ct);
        var evaluator = await db.Evaluators.AsNoTracking().SingleOrDefaultAsync(e => e.Id == id, ct) ?? throw NotFound();
        if (!evaluator.Enabled)
        {
            throw new ConflictException($"The evaluator '{evaluator.Name}' is disabled; enable it to run it.");
        }

        List<Guid> traceIds;
        string title;
        if ((selection.TraceIds is null ? 0 : 1) + (selection.QueueId is null ? 0 : 1) + (selection.Filter is null ? 0 : 1) != 1)
        {
            throw new DomainValidationException("trace_ids", "Give one of trace_ids (a list of trace ids), queue_id or filter.");
        }

        if (selection.TraceIds is { } given)
        {
            traceIds = given.Distinct().ToList();
            if (traceIds.Count is 0 or > MaxSelection)
            {
                throw new DomainValidationException("trace_ids", $"Give 1 to {MaxSelection} trace ids.");
            }

            var known = await db.Traces.Where(t => traceIds.Contains(t.Id)).Select(t => t.Id).ToListAsync(ct);
            var missing = traceIds.Where(t => !known.Contains(t)).Take(1).ToList();
            if (missing.Count > 0)
            {
                throw new DomainValidationException("trace_ids", $"No trace {missing[0]} in this team.");
            }

            title = $"{evaluator.Name} on {traceIds.Count} trace{(traceIds.Count == 1 ? "" : "s")}";
        }
        else if (selection.Filter is { } filter)
        {
            // The filter's newest traces, as a playground batch over a filter takes them.
            traceIds = await TraceQueries.Apply(db.Traces.AsNoTracking(), filter).OrderByDescending(t => t.SortKey).Select(t => t.Id).Take(MaxSelection).ToListAsync(ct);
            if (traceIds.Count == 0)
            {
                throw new DomainValidationException("filter", "No trace matches this filter.");
            }

            title = $"{evaluator.Name} on {traceIds.Count} trace{(traceIds.Count == 1 ? "" : "s")} of a filter";
        }
        else
        {
            var queue = await db.ReviewQueues.AsNoTracking().SingleOrDefaultAsync(q => q.Id == selection.QueueId, ct)
                ?? throw new DomainValidationException("queue_id", "No review queue with this id in this team.");
            traceIds = await QueueTracesAsync(db, queue, ct);
            if (traceIds.Count == 0)
            {
                throw new DomainValidationException("queue_id", $"The queue '{queue.Name}' has no traces.");
            }

            title = $"{evaluator.Name} on queue {queue.Name}";
        }

        return await batches.StartAsync(new BatchRunStart(EvaluatorBatchHandler.BatchKind, title,
            EvaluatorBatchHandler.Write(new EvaluatorBatchHandler.Payload(evaluator.Id, traceIds)), traceIds.Count, evaluator.Id), ct);
    }

    /// <summary>The evaluator's batch runs, newest first.</summary>
    public async Task<IReadOnlyList<BatchRun>> RunsAsync(Guid id, CancellationToken ct = default)
    {
        _ = await GetAsync(id, ct);
        return await batches.ListAsync(EvaluatorBatchHandler.BatchKind, id, 20, ct);
    }

    /// <summary>Judge–human agreement over the traces with both the evaluator's score and an accepted/rejected human verdict.</summary>
    public async Task<EvaluatorAgreementResult> AgreementAsync(Guid id, CancellationToken ct = default)
    {
        var evaluator = (await GetAsync(id, ct)).Evaluator;
        var author = Evaluator.AuthorOf(id);
        await using var db = await dbFactory.CreateAsync(ct);
        var pairs = await (from s in db.Scores
                           where s.Source == ScoreSource.Evaluator && s.Author == author && s.NumericValue != null
                           join t in db.Traces on s.TraceId equals t.Id
                           where t.ReviewStatus == ReviewStatus.Accepted || t.ReviewStatus == ReviewStatus.Rejected
                           select new { Value = s.NumericValue!.Value, t.ReviewStatus }).ToListAsync(ct);
        return EvaluatorAgreement.Compute(pairs.Select(p => (EvaluatorAgreement.Passes(evaluator.Output, p.Value), p.ReviewStatus == ReviewStatus.Accepted)));
    }

    // A queue's traces: those handed out already (its items) and those its filter (and sample) takes now, oldest first.
    // Also how a playground batch over a queue picks its traces (one way to read a queue as a selection).
    internal static async Task<List<Guid>> QueueTracesAsync(IEvalDbContext db, ReviewQueue queue, CancellationToken ct)
    {
        var items = await db.QueueItems.Where(i => i.QueueId == queue.Id).OrderBy(i => i.EnteredAt).Select(i => i.TraceId).Take(MaxSelection).ToListAsync(ct);
        var matching = TraceQueries.Apply(db.Traces.AsNoTracking(), QueueFilterJson.Read(queue.FilterJson));
        if (queue.SamplePercent is not null)
        {
            var created = queue.CreatedAt;
            matching = matching.Where(t => t.CreatedAt >= created);
        }

        var candidates = await matching.OrderBy(t => t.CreatedAt).Select(t => t.Id).Take(MaxSelection * 2).ToListAsync(ct);
        var sampled = candidates.Where(t => queue.SamplePercent is not { } p || QueueSampling.InSample(queue.Id, t, p));
        return items.Concat(sampled).Distinct().Take(MaxSelection).ToList();
    }

    private async Task ApplyAsync(IEvalDbContext db, Evaluator evaluator, EvaluatorInput input, CancellationToken ct)
    {
        var name = Common.Require.Text("name", input.Name, MaxName);
        if (await db.Evaluators.AnyAsync(e => e.Name == name && e.Id != evaluator.Id, ct))
        {
            throw new DomainValidationException("name", $"The team already has an evaluator named '{name}'.");
        }

        if (input.ConnectionId is not { } connectionId || await connections.FindAsync(connectionId, ct) is null)
        {
            throw new DomainValidationException("connection_id", "Required: one of the team's provider connections (Settings → Providers).");
        }

        var prompt = Common.Require.Text("prompt", input.Prompt, MaxPrompt);
        if (!JudgePrompt.Variables.Any(v => prompt.Contains("{{" + v + "}}", StringComparison.Ordinal)))
        {
            throw new DomainValidationException("prompt", "The rubric must use at least one of {{input}}, {{output}}, {{functions}}, {{metadata}}.");
        }

        if (input.SamplePercent is < 1 or > 100)
        {
            throw new DomainValidationException("sample_percent", "Between 1 and 100.");
        }

        if (input.DailyBudgetUsd is < 0 or > 1_000_000)
        {
            throw new DomainValidationException("daily_budget_usd", "0 or more (USD), or null for no limit.");
        }

        if (!Enum.IsDefined(input.Output))
        {
            throw new DomainValidationException("output", "One of pass_fail, scale_1_5, unit_0_1.");
        }

        evaluator.Name = name;
        evaluator.ConnectionId = connectionId;
        evaluator.Model = Common.Require.Text("model", input.Model, MaxModel);
        evaluator.Prompt = prompt;
        evaluator.Output = input.Output;
        evaluator.OnNewTraces = input.OnNewTraces;
        evaluator.FilterJson = QueueFilterJson.Write(input.Filter ?? new TraceFilter());
        evaluator.SamplePercent = input.SamplePercent;
        evaluator.DailyBudgetUsd = input.DailyBudgetUsd;
        evaluator.Enabled = input.Enabled;
        evaluator.UpdatedAt = clock.GetUtcNow();
    }

    private static async Task SaveAsync(IEvalDbContext db, string name, CancellationToken ct)
    {
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException)
        {
            // Two at once with one name: the unique index keeps one.
            throw new DomainValidationException("name", $"The team already has an evaluator named '{name}'.");
        }
    }

    private EvaluatorView View(Evaluator e)
    {
        var now = clock.GetUtcNow();
        return new EvaluatorView(e, EvaluatorJudge.SpentOn(e, new DateTimeOffset(now.UtcDateTime.Date, TimeSpan.Zero)));
    }

    private static Dictionary<string, string?> Details(Evaluator e) => new()
    {
        ["model"] = e.Model,
        ["output"] = e.Output.ToString(),
        ["on_new_traces"] = e.OnNewTraces ? "true" : "false",
        ["sample_percent"] = e.SamplePercent.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["daily_budget_usd"] = e.DailyBudgetUsd?.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["enabled"] = e.Enabled ? "true" : "false",
    };

    private string? Actor() => team.ApiKeyId is { } keyId ? $"api-key:{keyId}" : team.UserId;

    private static NotFoundException NotFound() => new("No evaluator with this id in this team.");

    private Guid Require(Permission permission) =>
        team.TeamId is { } teamId && team.Can(permission)
            ? teamId
            : throw new PermissionDeniedException(permission == Permission.ViewTraces
                ? "Reading evaluators needs a member of the team or an API key with the 'read' scope."
                : "Managing evaluators needs the Admin or Owner role, or an API key with the 'admin' scope.");
}
