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

/// <summary>What became of one run operation (<see cref="SpanOutcome.Rejected"/>: skipped, with its reason in <see cref="LangSmithResult.Refused"/>).</summary>
public sealed record RunOutcome(string? RunId, string? TraceKey, bool IsPatch, SpanOutcome Outcome, Guid? TraceId, Guid? SpanId);

/// <summary>The outcome of one LangSmith request: each run's fate in request order, the scores feedback made, and what was skipped.</summary>
/// <param name="Runs">Each run operation's outcome, in request order.</param>
/// <param name="Scores">The scores stored from feedback.</param>
/// <param name="Refused">Every run or feedback skipped, by its path in the request, with the reason; the rest was stored.</param>
public sealed record LangSmithResult(IReadOnlyList<RunOutcome> Runs, IReadOnlyList<Score> Scores, IReadOnlyList<FieldError> Refused)
{
    /// <summary>Posts of runs already stored: nothing of them was applied (LangSmith answers 409, which the SDK takes as "already have it").</summary>
    public IReadOnlyList<string> Duplicates => Runs.Where(r => r.Outcome == SpanOutcome.Duplicate).Select(r => r.RunId!).ToList();
}

/// <summary>
/// Stores LangSmith runs and feedback for the current team: resolves each run's trace (from
/// <c>trace_id</c>, <c>dotted_order</c>, its parent, or the stored run), maps it with <see cref="RunMapper"/>,
/// then hands the runs to <see cref="TraceAssembler"/> in one call (one transaction). A run or feedback that
/// cannot be stored is skipped, its reason returned and counted in the team's ingestion issue log; the SDK
/// drops a whole batch on any 4xx, so one bad run must never cost the others (issue 20). Only what makes the
/// request itself unusable (too many runs, no permission) refuses it whole. Feedback becomes scores (source
/// <see cref="ScoreSource.LangSmith"/>) after the runs are committed.
/// </summary>
public sealed class LangSmithIngestion(
    IEvalDbContextFactory dbFactory, ITeamContext team, TraceAssembler assembler, TraceUpdates updates, IIngestionIssueLog issueLog)
{
    /// <param name="runs">The run operations to store.</param>
    /// <param name="feedback">Feedback to store as scores.</param>
    /// <param name="unreadable">Items the transport already skipped (a malformed multipart part, a batch item that is not an object), by path: reported and logged with the rest.</param>
    /// <param name="ct">Cancels the request.</param>
    public async Task<LangSmithResult> IngestAsync(IReadOnlyList<RunOperation> runs, IReadOnlyList<FeedbackOperation> feedback,
        IReadOnlyList<FieldError>? unreadable = null, CancellationToken ct = default)
    {
        var teamId = RequireIngest();
        if (runs.Count > LangSmithLimits.MaxRuns)
        {
            throw new InputValidationException([new FieldError("$", $"Send at most {LangSmithLimits.MaxRuns} runs per request (got {runs.Count}).")]);
        }

        var refused = new List<FieldError>(unreadable ?? []);
        var issues = (unreadable ?? []).Select(e => UnreadableIssue(e)).ToList();
        var ids = new RunIdentity?[runs.Count];
        for (var i = 0; i < runs.Count; i++)
        {
            var errors = new List<FieldError>();
            ids[i] = RunMapper.ReadIdentity(runs[i], errors);
            Refuse(runs[i], errors, traceKey: null, runId: RunMapper.RawId(runs[i]));
        }

        // The look-ups' context is let go before assembling, which opens its own (one connection per request at a time).
        var db = await dbFactory.CreateAsync(ct);
        string?[] keys;
        Dictionary<string, SpanKind> kinds;
        await using (db)
        {
            keys = await ResolveTraceKeysAsync(db, runs, ids, (i, error) => Refuse(runs[i], [error], null, ids[i]!.RunId), ct);
            kinds = await KnownKindsAsync(db, runs, ids, keys, ct);
        }

        var records = new List<SpanRecord>(runs.Count);
        var recordOf = new int?[runs.Count];
        for (var i = 0; i < runs.Count; i++)
        {
            if (keys[i] is not { } key)
            {
                continue;
            }

            var errors = new List<FieldError>();
            var record = RunMapper.Map(runs[i], ids[i]!, key, kinds.GetValueOrDefault(ids[i]!.RunId), errors);
            TraceAssembler.Validate(record, errors);
            if (errors.Count > 0)
            {
                Refuse(runs[i], errors, key, ids[i]!.RunId);
                continue;
            }

            recordOf[i] = records.Count;
            records.Add(record);
        }

        List<ScoreRequest> scoreRequests;
        await using (db = await dbFactory.CreateAsync(ct))
        {
            var mapped = Enumerable.Range(0, runs.Count).Where(i => recordOf[i] is not null).ToList();
            scoreRequests = await CheckFeedbackAsync(db, feedback, mapped.Select(i => ids[i]!.RunId).ToHashSet(StringComparer.Ordinal),
                mapped.Select(i => keys[i]!).ToHashSet(StringComparer.Ordinal), refused, issues, ct);
        }

        AssemblyResult? assembled = null;
        if (records.Count > 0)
        {
            assembled = await assembler.AssembleAsync(records, ct);
            refused.AddRange(assembled.Errors);
            issues.AddRange(assembled.Issues);
        }

        var outcomes = new List<RunOutcome>(runs.Count);
        for (var i = 0; i < runs.Count; i++)
        {
            outcomes.Add(recordOf[i] is { } r && assembled!.Spans[r] is var s
                ? new RunOutcome(s.SpanKey, s.TraceKey, runs[i].IsPatch, s.Outcome, s.TraceId, s.SpanId)
                : new RunOutcome(ids[i]?.RunId, keys[i], runs[i].IsPatch, SpanOutcome.Rejected, null, null));
        }

        var scores = new List<Score>();
        foreach (var request in scoreRequests)
        {
            if (await StoreScoreAsync(request, ct) is { } stored)
            {
                scores.AddRange(stored);
            }
            else
            {
                RefuseFeedback(request.Path, request.RunId is null ? "trace_id" : "run_id", request.TraceKey, request.RunId,
                    $"The {(request.RunId is null ? "trace" : "run")} this feedback is about was not stored (see its own refusal).");
            }
        }

        issueLog.Record(teamId, IngestionDoor.LangSmith, issues);
        return new LangSmithResult(outcomes, scores, refused);

        void Refuse(RunOperation op, IReadOnlyList<FieldError> errors, string? traceKey, string? runId)
        {
            refused.AddRange(errors);
            issues.AddRange(errors.Select(e => new IngestionIssueReport(
                IngestionIssueKind.Refused, IngestionIssueReport.FieldOf(e.Field, op.Path), e.Message, traceKey, runId)));
        }

        void RefuseFeedback(string path, string field, string? traceKey, string? runId, string reason)
        {
            refused.Add(new FieldError(path.Length == 0 ? field : $"{path}.{field}", reason));
            issues.Add(new IngestionIssueReport(IngestionIssueKind.Refused, field, reason, traceKey, runId));
        }
    }

    /// <summary>
    /// An item the transport skipped, for the issue log: a multipart part name (<c>post.{id}.inputs</c>) names its
    /// run and field; a batch path (<c>post[3]</c>) names neither.
    /// </summary>
    private static IngestionIssueReport UnreadableIssue(FieldError e)
    {
        var segments = e.Field.Split('.', 3);
        var runId = segments.Length >= 2 && Guid.TryParse(segments[1], out var id) ? id.ToString("D") : null;
        return new IngestionIssueReport(IngestionIssueKind.Refused, runId is not null && segments.Length == 3 ? segments[2] : "$", e.Message, null, runId);
    }

    /// <summary>The trace key of each run id already stored for this team (a run id not found is absent).</summary>
    public async Task<Dictionary<string, string>> FindStoredRunsAsync(IReadOnlyCollection<string> runIds, CancellationToken ct = default)
    {
        _ = RequireIngest();
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
    private static async Task<string?[]> ResolveTraceKeysAsync(IEvalDbContext db, IReadOnlyList<RunOperation> runs, RunIdentity?[] ids,
        Action<int, FieldError> refuse, CancellationToken ct)
    {
        // A run whose identity could not be read (already refused) keeps a null key and is never stored.
        var keys = ids.Select((id, i) => id is null ? null : id.TraceId ?? (!runs[i].IsPatch && id.ParentId is null ? id.RunId : null)).ToArray();
        var wanted = new Func<int, string>(i => runs[i].IsPatch ? ids[i]!.RunId : ids[i]!.ParentId!);
        FromRequest();
        var missing = Enumerable.Range(0, runs.Count).Where(i => keys[i] is null && ids[i] is not null).Select(wanted).Distinct().ToList();
        if (missing.Count > 0)
        {
            var stored = await StoredTraceKeysAsync(db, missing, ct);
            for (var i = 0; i < runs.Count; i++)
            {
                if (keys[i] is null && ids[i] is not null && stored.TryGetValue(wanted(i), out var key))
                {
                    keys[i] = key;
                }
            }

            FromRequest();
        }

        for (var i = 0; i < runs.Count; i++)
        {
            if (keys[i] is not null || ids[i] is not { } id)
            {
                continue;
            }

            if (!runs[i].IsPatch)
            {
                keys[i] = id.ParentId;
            }
            else if (runs[i].Path.Length == 0)
            {
                throw new NotFoundException($"No run {id.RunId} is stored in this team; a patch sent before its run must carry trace_id (or dotted_order).");
            }
            else
            {
                refuse(i, new FieldError(runs[i].Path + ".trace_id", $"Required: run {id.RunId} is not stored yet, so its patch must name its trace (trace_id or dotted_order)."));
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
                        known.TryAdd(ids[i]!.RunId, k);
                    }
                }

                for (var i = 0; i < runs.Count; i++)
                {
                    if (keys[i] is null && ids[i] is not null && known.TryGetValue(wanted(i), out var k))
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
    private static async Task<Dictionary<string, SpanKind>> KnownKindsAsync(IEvalDbContext db, IReadOnlyList<RunOperation> runs, RunIdentity?[] ids,
        string?[] keys, CancellationToken ct)
    {
        var kinds = new Dictionary<string, SpanKind>(StringComparer.Ordinal);
        for (var i = 0; i < runs.Count; i++)
        {
            if (ids[i] is { } id && RunMapper.Kind(ChatMessages.Text(runs[i].Run["run_type"])) is { } kind)
            {
                kinds.TryAdd(id.RunId, kind);
            }
        }

        var lookups = Enumerable.Range(0, runs.Count)
            .Where(i => runs[i].IsPatch && keys[i] is not null && !kinds.ContainsKey(ids[i]!.RunId))
            .Select(i => (Trace: keys[i]!, Run: ids[i]!.RunId)).ToList();
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
    /// Checks feedback before anything is stored: a <c>key</c>, a score or value a score can hold, and a run
    /// (or trace) that is among this request's runs to store or already stored. Feedback that fails is
    /// refused (added to <paramref name="refused"/> and <paramref name="issues"/>); the rest is returned.
    /// </summary>
    private static async Task<List<ScoreRequest>> CheckFeedbackAsync(IEvalDbContext db, IReadOnlyList<FeedbackOperation> feedback,
        HashSet<string> requestRuns, HashSet<string> requestTraces, List<FieldError> refused, List<IngestionIssueReport> issues, CancellationToken ct)
    {
        var requests = new List<ScoreRequest>();
        var errors = new List<FieldError>();
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
            else
            {
                Refuse(op.Path, errors.Skip(before), traceKey, runId);
            }
        }

        var unknownRuns = requests.Where(r => r.RunId is not null && !requestRuns.Contains(r.RunId)).Select(r => r.RunId!).ToList();
        var storedRuns = unknownRuns.Count == 0 ? [] : await StoredTraceKeysAsync(db, unknownRuns, ct);
        var unknownTraces = requests.Where(r => r.RunId is null && !requestTraces.Contains(r.TraceKey!)).Select(r => r.TraceKey!).Distinct().ToList();
        var storedTraces = unknownTraces.Count == 0 ? [] : await db.Traces.Where(t => unknownTraces.Contains(t.ExternalId!)).Select(t => t.ExternalId!).ToListAsync(ct);
        return requests.Where(r =>
        {
            var at = r.Path.Length == 0 ? "" : r.Path + ".";
            if (r.RunId is not null && !requestRuns.Contains(r.RunId) && !storedRuns.ContainsKey(r.RunId))
            {
                Refuse(r.Path, [new FieldError(at + "run_id", $"No run {r.RunId} in this request or stored in this team.")], r.TraceKey, r.RunId);
                return false;
            }

            if (r.RunId is null && !requestTraces.Contains(r.TraceKey!) && !storedTraces.Contains(r.TraceKey!))
            {
                Refuse(r.Path, [new FieldError(at + "trace_id", $"No trace {r.TraceKey} in this request or stored in this team.")], r.TraceKey, null);
                return false;
            }

            return true;
        }).ToList();

        void Refuse(string path, IEnumerable<FieldError> found, string? traceKey, string? runId)
        {
            foreach (var e in found)
            {
                refused.Add(e);
                issues.Add(new IngestionIssueReport(IngestionIssueKind.Refused, IngestionIssueReport.FieldOf(e.Field, path), e.Message, traceKey, runId));
            }
        }
    }

    /// <summary>Stores one checked feedback as scores; null when its run or trace was not stored after all (refused in this request).</summary>
    private async Task<IReadOnlyList<Score>?> StoreScoreAsync(ScoreRequest request, CancellationToken ct)
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
                if ((spans.FirstOrDefault(s => s.Key == request.TraceKey) ?? spans.FirstOrDefault()) is not { } span)
                {
                    return null;
                }

                traceId = span.TraceId;
                request.Body["span_id"] = span.Id.ToString();
            }
            else
            {
                var found = await db.Traces.Where(t => t.ExternalId == request.TraceKey).Select(t => (Guid?)t.Id).FirstOrDefaultAsync(ct);
                if (found is not { } id)
                {
                    return null;
                }

                traceId = id;
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

    private Guid RequireIngest() => team.Can(Permission.IngestTraces) && team.TeamId is { } id
        ? id
        : throw new PermissionDeniedException("Sending LangSmith runs needs an API key with the 'ingest' scope.");
}
