using System.Text.Json;
using System.Text.Json.Nodes;
using EvalPlatform.Core.Assembly;
using EvalPlatform.Core.Common;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Ingestion;
using EvalPlatform.Core.Scores;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Core.Traces;
using Microsoft.EntityFrameworkCore;

namespace EvalPlatform.Core.LangSmith;

/// <summary>What became of one run operation.</summary>
public sealed record RunOutcome(string RunId, string TraceKey, bool IsPatch, SpanOutcome Outcome, Guid? TraceId, Guid? SpanId);

/// <summary>The outcome of one LangSmith request: each run's fate in request order, and the scores feedback made.</summary>
public sealed record LangSmithResult(IReadOnlyList<RunOutcome> Runs, IReadOnlyList<Score> Scores)
{
    /// <summary>Posts of runs already stored: nothing of them was applied (LangSmith answers 409, which the SDK takes as "already have it").</summary>
    public IReadOnlyList<string> Duplicates => Runs.Where(r => r.Outcome == SpanOutcome.Duplicate).Select(r => r.RunId).ToList();
}

/// <summary>
/// Stores LangSmith runs and feedback for the current team: resolves each run's trace (from
/// <c>trace_id</c>, <c>dotted_order</c>, its parent, or the stored run), maps it with <see cref="RunMapper"/>,
/// validates everything, then hands all runs to <see cref="TraceAssembler"/> in one call (one
/// transaction). Any invalid run or feedback refuses the whole request before anything is stored.
/// Feedback becomes scores (source <see cref="ScoreSource.LangSmith"/>) after the runs are committed.
/// </summary>
public sealed class LangSmithIngestion(IEvalDbContextFactory dbFactory, ITeamContext team, TraceAssembler assembler, TraceUpdates updates)
{
    public async Task<LangSmithResult> IngestAsync(IReadOnlyList<RunOperation> runs, IReadOnlyList<FeedbackOperation> feedback, CancellationToken ct = default)
    {
        RequireIngest();
        if (runs.Count > LangSmithLimits.MaxRuns)
        {
            throw new InputValidationException([new FieldError("$", $"Send at most {LangSmithLimits.MaxRuns} runs per request (got {runs.Count}).")]);
        }

        var errors = new List<FieldError>();
        var ids = runs.Select(r => RunMapper.ReadIdentity(r, errors)).ToArray();
        if (errors.Count > 0)
        {
            throw new InputValidationException(errors);
        }

        // The look-ups' context is let go before assembling, which opens its own (one connection per request at a time).
        var db = await dbFactory.CreateAsync(ct);
        string?[] keys;
        Dictionary<string, SpanKind> kinds;
        List<ScoreRequest> scoreRequests;
        await using (db)
        {
            keys = await ResolveTraceKeysAsync(db, runs, ids!, errors, ct);
            kinds = await KnownKindsAsync(db, runs, ids!, keys, ct);
            scoreRequests = await CheckFeedbackAsync(db, feedback, ids!, keys, errors, ct);
        }

        var records = new List<SpanRecord>(runs.Count);
        for (var i = 0; i < runs.Count; i++)
        {
            if (keys[i] is not { } key)
            {
                continue;
            }

            var record = RunMapper.Map(runs[i], ids[i]!, key, kinds.GetValueOrDefault(ids[i]!.RunId), errors);
            TraceAssembler.Validate(record, errors);
            records.Add(record);
        }

        if (errors.Count > 0)
        {
            throw new InputValidationException(errors);
        }

        var outcomes = new List<RunOutcome>(runs.Count);
        if (records.Count > 0)
        {
            var assembled = await assembler.AssembleAsync(records, ct);
            if (assembled.Errors.Count > 0)
            {
                // Only the per-trace span limit can refuse a run that passed validation; the others were stored.
                throw new InputValidationException(assembled.Errors);
            }

            outcomes.AddRange(assembled.Spans.Select((s, i) => new RunOutcome(s.SpanKey, s.TraceKey, runs[i].IsPatch, s.Outcome, s.TraceId, s.SpanId)));
        }

        var scores = new List<Score>();
        foreach (var request in scoreRequests)
        {
            scores.AddRange(await StoreScoreAsync(request, ct));
        }

        return new LangSmithResult(outcomes, scores);
    }

    /// <summary>The trace key of each run id already stored for this team (a run id not found is absent).</summary>
    public async Task<Dictionary<string, string>> FindStoredRunsAsync(IReadOnlyCollection<string> runIds, CancellationToken ct = default)
    {
        RequireIngest();
        await using var db = await dbFactory.CreateAsync(ct);
        return await StoredTraceKeysAsync(db, runIds, ct);
    }

    /// <summary>
    /// A run's trace: its <c>trace_id</c> (or <c>dotted_order</c>'s first id); a post with no parent is its own
    /// trace; otherwise the trace of its parent (a post) or of itself (a patch), found among this request's runs
    /// or the stored ones. A child whose parent is nowhere yet goes into the trace named after its parent (right
    /// whenever the parent is a root posted without trace_id, the only case where the SDK leaves trace_id out);
    /// a patch for an unknown run without trace_id is refused, as its post could later name another trace.
    /// </summary>
    private static async Task<string?[]> ResolveTraceKeysAsync(IEvalDbContext db, IReadOnlyList<RunOperation> runs, RunIdentity[] ids,
        List<FieldError> errors, CancellationToken ct)
    {
        var keys = ids.Select((id, i) => id.TraceId ?? (!runs[i].IsPatch && id.ParentId is null ? id.RunId : null)).ToArray();
        var wanted = new Func<int, string>(i => runs[i].IsPatch ? ids[i].RunId : ids[i].ParentId!);
        FromRequest();
        var missing = Enumerable.Range(0, runs.Count).Where(i => keys[i] is null).Select(wanted).Distinct().ToList();
        if (missing.Count > 0)
        {
            var stored = await StoredTraceKeysAsync(db, missing, ct);
            for (var i = 0; i < runs.Count; i++)
            {
                if (keys[i] is null && stored.TryGetValue(wanted(i), out var key))
                {
                    keys[i] = key;
                }
            }

            FromRequest();
        }

        for (var i = 0; i < runs.Count; i++)
        {
            if (keys[i] is not null)
            {
                continue;
            }

            if (!runs[i].IsPatch)
            {
                keys[i] = ids[i].ParentId;
            }
            else if (runs[i].Path.Length == 0)
            {
                throw new NotFoundException($"No run {ids[i].RunId} is stored in this team; a patch sent before its run must carry trace_id (or dotted_order).");
            }
            else
            {
                errors.Add(new FieldError(runs[i].Path + ".trace_id", $"Required: run {ids[i].RunId} is not stored yet, so its patch must name its trace (trace_id or dotted_order)."));
            }
        }

        return keys;

        // Runs of this request whose parent (post) or own post (patch) has a known trace; repeated until nothing changes.
        void FromRequest()
        {
            bool changed;
            do
            {
                changed = false;
                var known = new Dictionary<string, string>(StringComparer.Ordinal);
                for (var i = 0; i < runs.Count; i++)
                {
                    if (keys[i] is { } k)
                    {
                        known.TryAdd(ids[i].RunId, k);
                    }
                }

                for (var i = 0; i < runs.Count; i++)
                {
                    if (keys[i] is null && known.TryGetValue(wanted(i), out var k))
                    {
                        keys[i] = k;
                        changed = true;
                    }
                }
            }
            while (changed);
        }
    }

    /// <summary>
    /// Run id to its trace key, for runs already stored (by the partial index on spans' team and client id).
    /// It serves requests without trace ids (single <c>POST /runs</c> of a child, <c>PATCH</c> without trace_id,
    /// multipart parts for earlier runs) and feedback on earlier runs, never the SDK's run batches. Placeholders count: a patch that came first already fixed the run's trace.
    /// </summary>
    private static async Task<Dictionary<string, string>> StoredTraceKeysAsync(IEvalDbContext db, IReadOnlyCollection<string> runIds, CancellationToken ct)
    {
        var list = runIds.Distinct().ToList();
        var found = await (from s in db.Spans
                           where list.Contains(s.ExternalId!)
                           join t in db.Traces on s.TraceId equals t.Id
                           select new { Run = s.ExternalId!, Trace = t.ExternalId! }).ToListAsync(ct);
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var f in found.Where(f => f.Trace is not null))
        {
            result.TryAdd(f.Run, f.Trace);
        }

        return result;
    }

    /// <summary>For patches without <c>run_type</c>: the kind posted in this request or stored, so outputs are read the right way.</summary>
    private static async Task<Dictionary<string, SpanKind>> KnownKindsAsync(IEvalDbContext db, IReadOnlyList<RunOperation> runs, RunIdentity[] ids,
        string?[] keys, CancellationToken ct)
    {
        var kinds = new Dictionary<string, SpanKind>(StringComparer.Ordinal);
        for (var i = 0; i < runs.Count; i++)
        {
            if (RunMapper.Kind(ChatMessages.Text(runs[i].Run["run_type"])) is { } kind)
            {
                kinds.TryAdd(ids[i].RunId, kind);
            }
        }

        var lookups = Enumerable.Range(0, runs.Count)
            .Where(i => runs[i].IsPatch && keys[i] is not null && !kinds.ContainsKey(ids[i].RunId))
            .Select(i => (Trace: keys[i]!, Run: ids[i].RunId)).ToList();
        if (lookups.Count == 0)
        {
            return kinds;
        }

        var traceKeys = lookups.Select(l => l.Trace).Distinct().ToList();
        var runIds = lookups.Select(l => l.Run).Distinct().ToList();
        var stored = await (from t in db.Traces
                            where traceKeys.Contains(t.ExternalId!)
                            join s in db.Spans on t.Id equals s.TraceId
                            where runIds.Contains(s.ExternalId!) && !s.Placeholder
                            select new { Run = s.ExternalId!, s.Kind }).ToListAsync(ct);
        foreach (var s in stored)
        {
            kinds.TryAdd(s.Run, s.Kind);
        }

        return kinds;
    }

    private sealed record ScoreRequest(string? RunId, string? TraceKey, string Path, JsonObject Body);

    /// <summary>
    /// Validates feedback before anything is stored: a <c>key</c>, a score or value a score can hold, and a
    /// run (or trace) that is in this request or already stored.
    /// </summary>
    private static async Task<List<ScoreRequest>> CheckFeedbackAsync(IEvalDbContext db, IReadOnlyList<FeedbackOperation> feedback, RunIdentity[] ids,
        string?[] keys, List<FieldError> errors, CancellationToken ct)
    {
        var requests = new List<ScoreRequest>();
        var requestRuns = ids.Select(i => i.RunId).ToHashSet(StringComparer.Ordinal);
        var requestTraces = keys.Where(k => k is not null).ToHashSet(StringComparer.Ordinal);
        foreach (var op in feedback)
        {
            var at = op.Path.Length == 0 ? "" : op.Path + ".";
            var f = op.Feedback;
            var before = errors.Count;
            var key = ChatMessages.Text(f["key"]);
            if (string.IsNullOrEmpty(key) || key.Length > IngestionLimits.MaxShortText)
            {
                errors.Add(new FieldError(at + "key", $"Required: a string of at most {IngestionLimits.MaxShortText} characters."));
            }

            var runId = FeedbackId(f, "run_id", at, errors);
            var traceKey = FeedbackId(f, "trace_id", at, errors);
            if (runId is null && traceKey is null && errors.Count == before)
            {
                errors.Add(new FieldError(at + "run_id", "Required: the run (or trace_id) the feedback is about."));
            }

            var body = new JsonObject { ["name"] = key };
            var score = f["score"];
            var value = f["value"];
            var comment = new List<string>();
            if (ChatMessages.Text(f["comment"]) is { } c)
            {
                comment.Add(c);
            }

            if (IsScalar(score, allowString: false))
            {
                body["value"] = score!.DeepClone();
                if (value is not null && value.GetValueKind() != JsonValueKind.Null)
                {
                    comment.Add("Value: " + (ChatMessages.Text(value) ?? value.ToJsonString()));
                }
            }
            else if (score is not null && score.GetValueKind() != JsonValueKind.Null)
            {
                errors.Add(new FieldError(at + "score", "Must be a number or a boolean."));
            }
            else if (IsScalar(value, allowString: true) && (ChatMessages.Text(value)?.Length ?? 0) <= IngestionLimits.MaxShortText)
            {
                body["value"] = value!.DeepClone();
            }
            else if (value is not null && value.GetValueKind() != JsonValueKind.Null)
            {
                errors.Add(new FieldError(at + "value", $"A score holds a number, a boolean or a string of at most {IngestionLimits.MaxShortText} characters; send 'score', or put the object in 'comment'."));
            }
            else
            {
                errors.Add(new FieldError(at + "score", "Required: score (a number or boolean) or value."));
            }

            if (f["correction"] is { } correction && correction.GetValueKind() != JsonValueKind.Null)
            {
                comment.Add("Correction: " + correction.ToJsonString());
            }

            if (comment.Count > 0)
            {
                var text = string.Join("\n", comment);
                body["comment"] = text.Length > IngestionLimits.MaxErrorText ? text[..IngestionLimits.MaxErrorText] : text;
            }

            if (errors.Count == before)
            {
                requests.Add(new ScoreRequest(runId, traceKey, op.Path, body));
            }
        }

        var unknownRuns = requests.Where(r => r.RunId is not null && !requestRuns.Contains(r.RunId)).Select(r => r.RunId!).ToList();
        var storedRuns = unknownRuns.Count == 0 ? [] : await StoredTraceKeysAsync(db, unknownRuns, ct);
        var unknownTraces = requests.Where(r => r.RunId is null && !requestTraces.Contains(r.TraceKey)).Select(r => r.TraceKey!).Distinct().ToList();
        var storedTraces = unknownTraces.Count == 0 ? [] : await db.Traces.Where(t => unknownTraces.Contains(t.ExternalId!)).Select(t => t.ExternalId!).ToListAsync(ct);
        foreach (var r in requests)
        {
            var at = r.Path.Length == 0 ? "" : r.Path + ".";
            if (r.RunId is not null && !requestRuns.Contains(r.RunId) && !storedRuns.ContainsKey(r.RunId))
            {
                errors.Add(new FieldError(at + "run_id", $"No run {r.RunId} in this request or stored in this team."));
            }
            else if (r.RunId is null && !requestTraces.Contains(r.TraceKey) && !storedTraces.Contains(r.TraceKey!))
            {
                errors.Add(new FieldError(at + "trace_id", $"No trace {r.TraceKey} in this request or stored in this team."));
            }
        }

        return requests;
    }

    private async Task<IReadOnlyList<Score>> StoreScoreAsync(ScoreRequest request, CancellationToken ct)
    {
        Guid traceId;
        await using (var db = await dbFactory.CreateAsync(ct))
        {
            if (request.RunId is not null)
            {
                var spans = await (from s in db.Spans
                                   where s.ExternalId == request.RunId
                                   join t in db.Traces on s.TraceId equals t.Id
                                   select new { s.Id, s.TraceId, Key = t.ExternalId }).ToListAsync(ct);
                var span = spans.FirstOrDefault(s => s.Key == request.TraceKey) ?? spans.First();
                traceId = span.TraceId;
                request.Body["span_id"] = span.Id.ToString();
            }
            else
            {
                traceId = await db.Traces.Where(t => t.ExternalId == request.TraceKey).Select(t => t.Id).FirstAsync(ct);
            }
        }

        using var body = JsonDocument.Parse(request.Body.ToJsonString());
        return await updates.AddScoresAsync(traceId, body.RootElement, ScoreSource.LangSmith, ct);
    }

    private static string? FeedbackId(JsonObject f, string field, string at, List<FieldError> errors)
    {
        var node = f[field];
        if (node is null || node.GetValueKind() == JsonValueKind.Null)
        {
            return null;
        }

        if (ChatMessages.Text(node) is { } text && Guid.TryParse(text, out var id))
        {
            return id.ToString("D");
        }

        errors.Add(new FieldError(at + field, "Must be a UUID."));
        return null;
    }

    private static bool IsScalar(JsonNode? node, bool allowString) => node?.GetValueKind() switch
    {
        JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False => true,
        JsonValueKind.String => allowString,
        _ => false,
    };

    private void RequireIngest()
    {
        if (!team.Can(Permission.IngestTraces) || team.TeamId is null)
        {
            throw new PermissionDeniedException("Sending LangSmith runs needs an API key with the 'ingest' scope.");
        }
    }
}
