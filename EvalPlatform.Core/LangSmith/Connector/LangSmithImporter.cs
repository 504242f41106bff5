using System.Text.Json;
using System.Text.Json.Nodes;
using EvalPlatform.Core.Assembly;
using EvalPlatform.Core.Common;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Ingestion;
using EvalPlatform.Core.Scores;
using EvalPlatform.Core.Tenancy;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EvalPlatform.Core.LangSmith.Connector;

/// <summary>
/// What one sync of a connection did; <c>Completed</c>: every project's pass finished (false: paused, or stopped by an
/// error; the next sync resumes from the saved cursors).
/// </summary>
public sealed record LangSmithSyncOutcome(long RunsSeen, long RunsImported, long TracesImported, long ScoresImported, long Errors, bool Completed, string? Error);

/// <summary>
/// Imports a connection's projects for the current team (the sync job sets it): per project, a pass reads
/// <c>/runs/query</c> page by page from the saved cursor, stores each page's runs through <see cref="LangSmithIngestion"/>
/// (the run mapper and trace assembly of the compatible endpoint; a stored run is a duplicate, so a page read twice or a
/// run that also came through the endpoint is stored once) and the page's feedback as scores, then saves the cursor and
/// counts with the page, so a restart resumes at the page it stopped in. The first pass is the backfill (from the
/// project's start time); each later one starts from the newest run seen minus the overlap window, and a run stored
/// unfinished is patched when it comes back finished. 429s wait their <c>Retry-After</c>, 5xx and network failures back
/// off; a run that cannot be mapped goes to the import log and the pass goes on.
/// </summary>
public sealed partial class LangSmithImporter(
    IEvalDbContextFactory dbFactory, ITeamContext team, ILangSmithKeyProtector protector, LangSmithClient client, LangSmithIngestion ingestion,
    IOptions<LangSmithImportOptions> options, TimeProvider clock, ILogger<LangSmithImporter> log)
{
    /// <summary>Server-computed fields of a run as LangSmith reads it back: not part of the run itself, so not stored.</summary>
    private static readonly string[] ReadOnlyFields =
    [
        "status", "child_run_ids", "direct_child_run_ids", "parent_run_ids", "feedback_stats", "in_dataset", "app_path", "share_token",
        "price_model_id", "session_id", "manifest_id", "trace_tier", "trace_upgrade", "trace_first_received_at", "ttl_seconds",
        "messages", "thread_id",
    ];

    private LangSmithImportOptions Options => options.Value;

    public async Task<LangSmithSyncOutcome> SyncAsync(Guid connectionId, CancellationToken ct = default)
    {
        var teamId = team.TeamId ?? throw new InvalidOperationException("An import acts for a team.");
        LangSmithConnection connection;
        List<LangSmithProject> projects;
        await using (var db = await dbFactory.CreateAsync(ct))
        {
            connection = await db.LangSmithConnections.AsNoTracking().SingleOrDefaultAsync(c => c.Id == connectionId, ct)
                         ?? throw new NotFoundException($"No LangSmith connection {connectionId} in this team.");
            projects = await db.LangSmithProjects.AsNoTracking().Where(p => p.ConnectionId == connectionId).ToListAsync(ct);
        }

        var endpoint = new LangSmithEndpoint(connection.ApiUrl, protector.Unprotect(teamId, connection.ProtectedApiKey), connection.WorkspaceId);
        var totals = new Totals();
        string? error = null;
        TimeSpan? retryIn = null;
        var completed = !connection.Paused;
        if (connection.Paused)
        {
            return new LangSmithSyncOutcome(0, 0, 0, 0, 0, false, null);
        }

        foreach (var project in projects.OrderBy(p => p.Name, StringComparer.Ordinal))
        {
            try
            {
                if (!await SyncProjectAsync(connection, endpoint, project, totals, ct))
                {
                    completed = false;
                    break;
                }
            }
            catch (LangSmithApiException e) when (e.Status is 404)
            {
                // A deleted project: said on the project, the others go on.
                completed = false;
                await SaveProjectErrorAsync(project, e.Message);
            }
            catch (LangSmithApiException e)
            {
                completed = false;
                error = e.Message;
                retryIn = e.RetryAfter;
                await SaveProjectErrorAsync(project, e.Message);
                LogSyncStopped(log, connectionId, e.Message);
                break;
            }
        }

        await using (var db = await dbFactory.CreateAsync(CancellationToken.None))
        {
            if (await db.LangSmithConnections.SingleOrDefaultAsync(c => c.Id == connectionId, CancellationToken.None) is { } row)
            {
                var now = clock.GetUtcNow();
                row.LastSyncAt = now;
                row.LastError = error;
                row.NextSyncAt = now + (retryIn is { } r && r > TimeSpan.Zero ? r : TimeSpan.FromMinutes(row.SyncIntervalMinutes));
                await db.SaveChangesAsync(CancellationToken.None);
            }
        }

        return new LangSmithSyncOutcome(totals.Seen, totals.Imported, totals.Traces, totals.Scores, totals.Errors, completed, error);
    }

    /// <summary>Runs the project's pass to its end; false when the connection was paused (or the project changed) meanwhile.</summary>
    private async Task<bool> SyncProjectAsync(LangSmithConnection connection, LangSmithEndpoint endpoint, LangSmithProject project, Totals totals, CancellationToken ct)
    {
        if (!project.BackfillDone)
        {
            // The rate counts from here: time paused or stopped before is not the backfill's pace.
            project.BackfillResumedAt = clock.GetUtcNow();
            project.BackfillRunsAtResume = project.RunsSeen;
        }

        if (!project.PassActive)
        {
            project.PassActive = true;
            project.PassFrom = project.BackfillDone && project.Newest is { } newest
                ? Max(newest - TimeSpan.FromMinutes(Options.OverlapMinutes), project.StartTime)
                : project.StartTime;
            project.Cursor = null;
            project.PassNewest = null;
            if (!await SaveProgressAsync(project, [], ct))
            {
                return false;
            }
        }

        while (true)
        {
            ct.ThrowIfCancellationRequested();
            var page = await CallAsync(() => client.QueryRunsAsync(endpoint, project.ProjectId, project.PassFrom, project.Cursor, Options.PageSize, ct), ct);
            var issues = new List<LangSmithImportIssue>();
            var result = await ImportPageAsync(connection, endpoint, project, page.Runs, issues, ct);
            project.RunsSeen += page.Runs.Count;
            project.RunsImported += result.Imported;
            project.TracesImported += result.Traces;
            project.Errors += issues.Count;
            project.PassNewest = Max(project.PassNewest, result.Newest);
            project.Cursor = page.NextCursor;
            project.LastSyncAt = clock.GetUtcNow();
            LangSmithProgress.CountImported(project, result.Imported, project.LastSyncAt.Value);
            project.LastError = null;
            if (page.NextCursor is null)
            {
                result = result with { Scores = result.Scores + await ImportLateFeedbackAsync(connection, endpoint, project, ct) };
                project.Newest = Max(project.Newest, project.PassNewest);
                project.BackfillDone = true;
                project.PassActive = false;
                project.PassFrom = null;
                project.PassNewest = null;
            }

            totals.Add(page.Runs.Count, result, issues.Count);
            if (!await SaveProgressAsync(project, issues, ct) || page.NextCursor is null)
            {
                return page.NextCursor is null;
            }

            if (await PausedAsync(connection.Id, ct))
            {
                return false;
            }
        }
    }

    private sealed record PageResult(long Imported, long Traces, long Scores, DateTimeOffset? Newest);

    /// <summary>Margin under the last check when asking for late feedback: LangSmith's clock and ours may differ a little.</summary>
    private static readonly TimeSpan FeedbackCheckMargin = TimeSpan.FromMinutes(5);

    /// <summary>
    /// At the end of each pass: the feedback created in LangSmith since the last check on any of the project's runs, however
    /// old the run (the pass itself reads feedback only for the runs it reads). New feedback becomes a score; feedback already
    /// stored updates its score. The first check reaches back to the connection's creation (the backfill read the rest).
    /// </summary>
    private async Task<long> ImportLateFeedbackAsync(LangSmithConnection connection, LangSmithEndpoint endpoint, LangSmithProject project, CancellationToken ct)
    {
        var checkedAt = clock.GetUtcNow();
        var since = (project.FeedbackCheckedAt ?? connection.CreatedAt) - FeedbackCheckMargin;
        var feedback = await CallAsync(() => client.ListProjectFeedbackAsync(endpoint, project.ProjectId, since, ct), ct);
        var stored = await StoreFeedbackAsync(feedback, ct);
        project.FeedbackCheckedAt = checkedAt;
        return stored;
    }

    private async Task<PageResult> ImportPageAsync(
        LangSmithConnection connection, LangSmithEndpoint endpoint, LangSmithProject project, IReadOnlyList<JsonObject> runs,
        List<LangSmithImportIssue> issues, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        DateTimeOffset? newest = null;
        var byId = new Dictionary<string, JsonObject>(StringComparer.Ordinal);
        foreach (var run in runs)
        {
            var id = LangSmithClient.Text(run["id"]);
            if (id is null || !Guid.TryParse(id, out var parsed))
            {
                issues.Add(Issue(connection, project, id, "The run has no valid id.", now));
                continue;
            }

            newest = Max(newest, LangSmithClient.Time(run["start_time"]));
            byId.TryAdd(parsed.ToString("D"), run);
        }

        var ids = byId.Keys.ToList();
        Dictionary<string, (DateTimeOffset? EndedAt, bool Placeholder)> stored;
        await using (var db = await dbFactory.CreateAsync(ct))
        {
            stored = (await db.Spans.AsNoTracking().Where(s => ids.Contains(s.ExternalId!))
                    .Select(s => new { Run = s.ExternalId!, s.EndedAt, s.Placeholder }).ToListAsync(ct))
                .GroupBy(s => s.Run).ToDictionary(g => g.Key, g => (g.First().EndedAt, g.First().Placeholder), StringComparer.Ordinal);
        }

        var operations = new List<RunOperation>();
        foreach (var (id, run) in byId)
        {
            var copy = Clean(run, project.Name);
            if (!stored.TryGetValue(id, out var span) || span.Placeholder)
            {
                operations.Add(new RunOperation(false, copy, $"runs.{id}"));
            }
            else if (span.EndedAt is null && copy["end_time"] is JsonValue)
            {
                // Stored while it was running: it finished since (a late-finishing run).
                operations.Add(new RunOperation(true, copy, $"runs.{id}"));
            }
        }

        long imported = 0, traces = 0;
        if (operations.Count > 0)
        {
            var result = await ingestion.IngestAsync(operations, [], null, ct);
            foreach (var (outcome, op) in result.Runs.Zip(operations))
            {
                if (outcome.Outcome is SpanOutcome.Created or SpanOutcome.Updated && !op.IsPatch)
                {
                    imported++;
                    if (op.Run["parent_run_id"] is not JsonValue)
                    {
                        traces++;
                    }
                }
            }

            foreach (var refused in result.Refused)
            {
                var runId = refused.Field.StartsWith("runs.", StringComparison.Ordinal) ? refused.Field.Split('.')[1] : null;
                issues.Add(Issue(connection, project, runId, $"{refused.Field}: {refused.Message}", now));
            }
        }

        var scores = await ImportFeedbackAsync(endpoint, ids, ct);
        return new PageResult(imported, traces, scores, newest);
    }

    /// <summary>
    /// The page's feedback as scores (source LangSmith) with LangSmith's own author and time; the score takes the
    /// feedback's id, so feedback read twice is stored once.
    /// </summary>
    private async Task<long> ImportFeedbackAsync(LangSmithEndpoint endpoint, List<string> runIds, CancellationToken ct)
    {
        if (runIds.Count == 0)
        {
            return 0;
        }

        var feedback = await CallAsync(() => client.ListFeedbackAsync(endpoint, runIds, ct), ct);
        return await StoreFeedbackAsync(feedback, ct);
    }

    /// <summary>Feedback as scores: a new one is added; one already stored (same id) has its value and comment updated when LangSmith's changed.</summary>
    private async Task<long> StoreFeedbackAsync(IReadOnlyList<JsonObject> feedback, CancellationToken ct)
    {
        var items = feedback
            .Select(f => (Id: Guid.TryParse(LangSmithClient.Text(f["id"]), out var id) ? id : Guid.Empty, Run: LangSmithClient.Text(f["run_id"]), Body: f))
            .Where(f => f.Id != Guid.Empty && f.Run is not null && !IsOurs(f.Body))
            .ToList();
        if (items.Count == 0)
        {
            return 0;
        }

        var teamId = team.TeamId!.Value;
        var now = clock.GetUtcNow();
        await using var db = await dbFactory.CreateAsync(ct);
        var feedbackIds = items.Select(f => f.Id).ToList();
        var known = await db.Scores.Where(s => feedbackIds.Contains(s.Id)).ToDictionaryAsync(s => s.Id, ct);
        var runs = items.Select(f => Guid.Parse(f.Run!).ToString("D")).Distinct().ToList();
        var spans = (await db.Spans.Where(s => runs.Contains(s.ExternalId!) && !s.Placeholder).Select(s => new { Run = s.ExternalId!, s.Id, s.TraceId }).ToListAsync(ct))
            .GroupBy(s => s.Run).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
        var added = new List<Score>();
        var changed = new List<Score>();
        foreach (var (id, run, body) in items)
        {
            if (known.TryGetValue(id, out var existing))
            {
                // Feedback edited in LangSmith: the same score, its value brought up to date (never a second score).
                if (ToScore(body) is { } update && (existing.NumericValue != update.Number || existing.StringValue != update.Text || existing.Comment != update.Comment || existing.DataType != update.Type))
                {
                    existing.DataType = update.Type;
                    existing.NumericValue = update.Number;
                    existing.StringValue = update.Text;
                    existing.Comment = update.Comment;
                    changed.Add(existing);
                }

                continue;
            }

            if (!spans.TryGetValue(Guid.Parse(run!).ToString("D"), out var span) || ToScore(body) is not { } value)
            {
                continue;
            }

            added.Add(new Score
            {
                Id = id,
                TeamId = teamId,
                TraceId = span.TraceId,
                SpanId = span.Id,
                Name = value.Name,
                DataType = value.Type,
                NumericValue = value.Number,
                StringValue = value.Text,
                Source = ScoreSource.LangSmith,
                Author = Author(body),
                Comment = value.Comment,
                CreatedAt = LangSmithClient.Time(body["created_at"]) ?? now,
            });
        }

        if (added.Count == 0 && changed.Count == 0)
        {
            return 0;
        }

        db.Scores.AddRange(added);
        var traceIds = added.Concat(changed).Select(s => s.TraceId).Distinct().ToList();
        // Touched with the scores: the metrics rollup finds changes by UpdatedAt (ADR 17).
        foreach (var trace in await db.Traces.Where(t => traceIds.Contains(t.Id)).ToListAsync(ct))
        {
            trace.UpdatedAt = now;
        }

        await db.SaveChangesAsync(ct);
        return added.Count + changed.Count;
    }

    private sealed record ScoreValue(string Name, ScoreDataType Type, double? Number, string? Text, string? Comment);

    /// <summary>LangSmith feedback as a score: <c>score</c> (number or boolean) first, else a scalar <c>value</c>; comment and correction as the comment.</summary>
    private static ScoreValue? ToScore(JsonObject f)
    {
        if (LangSmithClient.Text(f["key"]) is not { Length: > 0 and <= IngestionLimits.MaxShortText } key)
        {
            return null;
        }

        var comment = new List<string>();
        if (LangSmithClient.Text(f["comment"]) is { Length: > 0 } c)
        {
            comment.Add(c);
        }

        if (f["correction"] is { } correction && correction.GetValueKind() != JsonValueKind.Null)
        {
            comment.Add("Correction: " + correction.ToJsonString());
        }

        var text = comment.Count == 0 ? null : string.Join("\n", comment);
        if (text is { Length: > IngestionLimits.MaxErrorText })
        {
            text = text[..IngestionLimits.MaxErrorText];
        }

        ScoreValue? Of(JsonNode? node) => node?.GetValueKind() switch
        {
            JsonValueKind.True or JsonValueKind.False => new ScoreValue(key, ScoreDataType.Boolean, node.GetValue<bool>() ? 1 : 0, null, text),
            JsonValueKind.Number => new ScoreValue(key, ScoreDataType.Numeric, node.GetValue<double>(), null, text),
            JsonValueKind.String when node.GetValue<string>().Length <= IngestionLimits.MaxShortText => new ScoreValue(key, ScoreDataType.Categorical, null, node.GetValue<string>(), text),
            _ => null,
        };

        return Of(f["score"]) ?? Of(f["value"]);
    }

    /// <summary>The feedback's author as LangSmith knows it: the user's name or id, else the source type (<c>api</c>, <c>model</c>, <c>app</c>).</summary>
    private static string Author(JsonObject f)
    {
        var source = f["feedback_source"] as JsonObject;
        var who = LangSmithClient.Text(source?["user_name"]) ?? LangSmithClient.Text(source?["ls_user_id"]) ?? LangSmithClient.Text(source?["user_id"])
                  ?? LangSmithClient.Text(source?["metadata"]?["reviewer"]) ?? LangSmithClient.Text(source?["type"]) ?? "unknown";
        var author = "langsmith:" + who;
        return author.Length > 256 ? author[..256] : author;
    }

    /// <summary>Feedback this platform sent (reviews pushed back): not imported again as a score.</summary>
    internal static bool IsOurs(JsonObject f) =>
        f["feedback_source"]?["metadata"]?["evalplatform"] is JsonValue v && v.GetValueKind() == JsonValueKind.True;

    /// <summary>The run as the compatible endpoint would have received it: its project as <c>session_name</c>, read-only fields dropped.</summary>
    private static JsonObject Clean(JsonObject run, string projectName)
    {
        var copy = run.DeepClone().AsObject();
        foreach (var field in ReadOnlyFields)
        {
            copy.Remove(field);
        }

        copy["session_name"] = projectName;
        return copy;
    }

    /// <summary>Calls LangSmith, waiting out 429s (their Retry-After) and backing off on 5xx and network failures.</summary>
    private async Task<T> CallAsync<T>(Func<Task<T>> call, CancellationToken ct)
    {
        var backoff = TimeSpan.FromSeconds(Options.BackoffSeconds);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await call();
            }
            catch (LangSmithApiException e) when (e.Transient && attempt < Options.MaxAttempts)
            {
                var wait = e.Status == 429 && e.RetryAfter is { } after ? after : backoff;
                if (wait > TimeSpan.FromSeconds(Options.MaxRetryAfterSeconds))
                {
                    throw;
                }

                LogRetry(log, e.Status, wait.TotalSeconds, attempt + 1, e.Message);
                await Task.Delay(wait, ct);
                if (e.Status != 429)
                {
                    backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, TimeSpan.FromMinutes(1).Ticks));
                }
            }
        }
    }

    /// <summary>
    /// Saves the project's progress with the page's import log entries, in one transaction; false when the project was
    /// removed or its start time changed meanwhile (the edit wins, the pass stops).
    /// </summary>
    private async Task<bool> SaveProgressAsync(LangSmithProject progress, List<LangSmithImportIssue> issues, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateAsync(ct);
        var row = await db.LangSmithProjects.SingleOrDefaultAsync(p => p.Id == progress.Id, ct);
        if (row is null || row.StartTime != progress.StartTime)
        {
            return false;
        }

        row.PassActive = progress.PassActive;
        row.PassFrom = progress.PassFrom;
        row.Cursor = progress.Cursor;
        row.PassNewest = progress.PassNewest;
        row.Newest = progress.Newest;
        row.BackfillDone = progress.BackfillDone;
        row.RunsSeen = progress.RunsSeen;
        row.RunsImported = progress.RunsImported;
        row.ImportDay = progress.ImportDay;
        row.RunsImportedToday = progress.RunsImportedToday;
        row.BackfillResumedAt = progress.BackfillResumedAt;
        row.BackfillRunsAtResume = progress.BackfillRunsAtResume;
        row.TracesImported = progress.TracesImported;
        row.Errors = progress.Errors;
        row.LastSyncAt = progress.LastSyncAt;
        row.LastError = progress.LastError;
        row.FeedbackCheckedAt = progress.FeedbackCheckedAt;
        db.LangSmithImportIssues.AddRange(issues);
        await db.SaveChangesAsync(ct);
        return true;
    }

    /// <summary>Says on the project why its pass stopped; written even when the sync is being cancelled.</summary>
    private async Task SaveProjectErrorAsync(LangSmithProject project, string message)
    {
        await using var db = await dbFactory.CreateAsync(CancellationToken.None);
        if (await db.LangSmithProjects.SingleOrDefaultAsync(p => p.Id == project.Id, CancellationToken.None) is { } row)
        {
            row.LastError = message.Length > 2_000 ? message[..2_000] : message;
            row.LastSyncAt = clock.GetUtcNow();
            await db.SaveChangesAsync(CancellationToken.None);
        }
    }

    private async Task<bool> PausedAsync(Guid connectionId, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateAsync(ct);
        return await db.LangSmithConnections.AsNoTracking().Where(c => c.Id == connectionId).Select(c => (bool?)c.Paused).SingleOrDefaultAsync(ct) ?? true;
    }

    private static LangSmithImportIssue Issue(LangSmithConnection connection, LangSmithProject project, string? runId, string reason, DateTimeOffset now) => new()
    {
        Id = Uuid7.Create(now),
        TeamId = connection.TeamId,
        ConnectionId = connection.Id,
        ProjectId = project.ProjectId,
        RunId = runId is { Length: > 64 } ? runId[..64] : runId,
        Reason = reason.Length > 2_000 ? reason[..2_000] : reason,
        At = now,
    };

    private static DateTimeOffset? Max(DateTimeOffset? a, DateTimeOffset? b) => a is null ? b : b is null ? a : a > b ? a : b;

    private sealed class Totals
    {
        public long Seen { get; private set; }
        public long Imported { get; private set; }
        public long Traces { get; private set; }
        public long Scores { get; private set; }
        public long Errors { get; private set; }

        public void Add(int seen, PageResult page, int errors)
        {
            Seen += seen;
            Imported += page.Imported;
            Traces += page.Traces;
            Scores += page.Scores;
            Errors += errors;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "LangSmith answered {Status}; waiting {Seconds:0.###} s before try {Attempt} again: {Error}")]
    private static partial void LogRetry(ILogger logger, int? status, double seconds, int attempt, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "LangSmith sync of connection {ConnectionId} stopped: {Error}")]
    private static partial void LogSyncStopped(ILogger logger, Guid connectionId, string error);
}
