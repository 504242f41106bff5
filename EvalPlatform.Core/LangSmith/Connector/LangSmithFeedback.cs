using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using EvalPlatform.Core.Common;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Notifications;
using EvalPlatform.Core.Reviews;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Core.Traces;
using Microsoft.EntityFrameworkCore;

namespace EvalPlatform.Core.LangSmith.Connector;

/// <summary>Where a review's feedback stands in LangSmith (per trace × key).</summary>
public enum LangSmithFeedbackStatus
{
    /// <summary>A delivery is queued or retrying.</summary>
    Pending,

    /// <summary>LangSmith holds the latest version.</summary>
    Sent,

    /// <summary>The latest version's delivery gave up (or failed permanently): Redeliver sends it again.</summary>
    Failed,
}

/// <summary>
/// One feedback this platform keeps in LangSmith for a trace under one key (ADR 45): <see cref="Id"/> is the feedback's
/// id in LangSmith (generated here, sent as <c>id</c> on the first POST), so a changed review PATCHes the same feedback
/// instead of adding another. <see cref="Version"/> counts the queued versions; <see cref="SentVersion"/> the newest
/// LangSmith holds: a delivery older than that is superseded and sends nothing.
/// </summary>
public sealed class LangSmithFeedbackLink : ITeamOwned
{
    public Guid Id { get; set; }
    public Guid TeamId { get; set; }
    public Guid ConnectionId { get; set; }
    public Guid TraceId { get; set; }

    /// <summary>The LangSmith feedback key (the connection's <c>feedback_key</c>, or <c>human_score</c>).</summary>
    public required string Key { get; set; }

    /// <summary>The root run the feedback is on (the trace's LangSmith <c>trace_id</c>).</summary>
    public required string RunId { get; set; }

    public int Version { get; set; }
    public int SentVersion { get; set; }

    /// <summary>LangSmith has the feedback (a POST succeeded, or answered 409): later versions are PATCHes.</summary>
    public bool Created { get; set; }

    public LangSmithFeedbackStatus Status { get; set; }
    public string? LastError { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
    public DateTimeOffset? SentAt { get; set; }
}

/// <summary>
/// Reviews back to LangSmith (issue 18): when a trace that came from LangSmith (imported, or sent through the compatible
/// endpoint) is accepted, rejected or scored, queues the feedback as outbox rows (<see cref="NotificationDelivery"/> with
/// <see cref="NotificationDelivery.LangSmithConnectionId"/>) in the review's own unit of work, so it commits with the review
/// or not at all and the delivery job sends it with the outbox's retries. The row's <see cref="NotificationDelivery.EventId"/>
/// is the feedback's id.
/// </summary>
public sealed class LangSmithFeedback(TimeProvider clock)
{
    public const string EventType = "langsmith.feedback";

    /// <summary>The key the human score goes under, beside the connection's review key (on a 1–5 or 0–1 scale).</summary>
    public const string ScoreKey = "human_score";

    /// <summary>Queues what changed between <paramref name="before"/> and <paramref name="after"/>; nothing when the trace is not LangSmith's or no connection pushes feedback.</summary>
    public async Task EnqueueAsync(IEvalDbContext db, Trace trace, ReviewState before, ReviewState after, ReviewConfig config, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(db);
        ArgumentNullException.ThrowIfNull(trace);
        ArgumentNullException.ThrowIfNull(before);
        ArgumentNullException.ThrowIfNull(after);
        ArgumentNullException.ThrowIfNull(config);
        if (trace.ExternalId is not { } runId || !IsRunId(runId))
        {
            return;
        }

        var connections = await db.LangSmithConnections.AsNoTracking().Where(c => c.TeamId == trace.TeamId)
            .Select(c => new { c.Id, c.PushFeedback, c.FeedbackKey, c.CreatedAt }).ToListAsync(ct);
        if (connections.Count == 0 || !await CameFromLangSmithAsync(db, trace, runId, ct))
        {
            return;
        }

        // The connection that imported the trace's project, if one did; else the first that pushes feedback.
        var projects = trace.Tags.Where(t => t.StartsWith("project:", StringComparison.Ordinal)).Select(t => t["project:".Length..]).ToList();
        var importing = projects.Count == 0 ? [] : await db.LangSmithProjects.AsNoTracking()
            .Where(p => p.TeamId == trace.TeamId && projects.Contains(p.Name)).Select(p => p.ConnectionId).ToListAsync(ct);
        var ordered = connections.OrderBy(c => c.CreatedAt).ThenBy(c => c.Id).ToList();
        var connection = ordered.FirstOrDefault(c => importing.Contains(c.Id)) ?? ordered.FirstOrDefault(c => c.PushFeedback);
        if (connection is null || !connection.PushFeedback)
        {
            return;
        }

        var links = await db.LangSmithFeedbackLinks.Where(l => l.TraceId == trace.Id && l.ConnectionId == connection.Id).ToListAsync(ct);
        var now = clock.GetUtcNow();
        var reviewKey = connection.FeedbackKey;
        Queue(db, trace, connection.Id, runId, reviewKey, Verdict(before, config), Verdict(after, config), links, now);
        // On the good/bad scale the score is the verdict itself; on the others it is a judgement of its own, sent beside it.
        if (config.Scale != ScoreScale.GoodBad)
        {
            Queue(db, trace, connection.Id, runId, ScoreKey, Scored(before), Scored(after), links, now);
        }
    }

    /// <summary>What a feedback says: its score (null withdraws it) and comment.</summary>
    private sealed record Content(double? Score, string? Comment);

    /// <summary>The review as feedback: 1 accepted, 0 rejected with the reason and note as the comment; null when neither.</summary>
    private static Content? Verdict(ReviewState state, ReviewConfig config)
    {
        if (state.Status is not (ReviewStatus.Accepted or ReviewStatus.Rejected))
        {
            return null;
        }

        var lines = new List<string>();
        if (state.Status == ReviewStatus.Rejected)
        {
            var reason = config.ReasonLabel(state.Reason);
            var detail = string.IsNullOrWhiteSpace(state.Detail) ? null : state.Detail.Trim();
            var line = reason is null ? detail : detail is null ? reason : $"{reason}: {detail}";
            if (line is not null)
            {
                lines.Add(line);
            }
        }

        if (!string.IsNullOrWhiteSpace(state.Note))
        {
            lines.Add(state.Note.Trim());
        }

        return new Content(state.Status == ReviewStatus.Accepted ? 1 : 0, lines.Count == 0 ? null : string.Join("\n", lines));
    }

    private static Content? Scored(ReviewState state) => state.Score is { } s ? new Content(s, null) : null;

    private static void Queue(
        IEvalDbContext db, Trace trace, Guid connectionId, string runId, string key, Content? before, Content? after, List<LangSmithFeedbackLink> links, DateTimeOffset now)
    {
        var link = links.FirstOrDefault(l => l.Key == key);
        if (after == before || (after is null && link is null))
        {
            return;
        }

        // Withdrawn (reset, or the score cleared): the feedback LangSmith holds is emptied, not left saying the old verdict.
        var content = after ?? new Content(null, "Review withdrawn in EvalPlatform.");
        if (link is null)
        {
            link = new LangSmithFeedbackLink
            {
                Id = Uuid7.Create(now), TeamId = trace.TeamId, ConnectionId = connectionId, TraceId = trace.Id, Key = key, RunId = runId,
            };
            db.LangSmithFeedbackLinks.Add(link);
        }

        link.Version++;
        link.Status = LangSmithFeedbackStatus.Pending;
        link.UpdatedAt = now;
        var data = new JsonObject
        {
            ["feedback_id"] = link.Id.ToString(),
            ["version"] = link.Version,
            ["run_id"] = runId,
            ["key"] = key,
            ["score"] = content.Score,
            ["comment"] = content.Comment,
            ["trace_id"] = trace.Id.ToString(),
        };
        var score = content.Score is { } s ? s.ToString(CultureInfo.InvariantCulture) : "none";
        var stored = new StoredNotification(
            link.Id, EventType, trace.TeamId, $"LangSmith feedback {key} = {score}", $"Feedback on LangSmith run {runId}.", $"/traces/{trace.Id}",
            NotificationSeverity.Info, data, now);
        var row = NotificationOutbox.NewDelivery(trace.TeamId, null, stored, stored.ToJson(), now);
        row.LangSmithConnectionId = connectionId;
        db.NotificationDeliveries.Add(row);
    }

    /// <summary>LangSmith's run and trace ids are UUIDs in their hyphenated form.</summary>
    internal static bool IsRunId(string id) => id.Length == 36 && Guid.TryParseExact(id, "D", out _);

    /// <summary>
    /// A LangSmith trace: its root span is the run whose id is the trace's id, mapped from a run (it carries the run's
    /// <c>run_type</c>, which the SDK always sends and the API always returns). Native and OpenTelemetry traces have no such span.
    /// </summary>
    private static async Task<bool> CameFromLangSmithAsync(IEvalDbContext db, Trace trace, string runId, CancellationToken ct)
    {
        var attributes = await db.Spans.AsNoTracking().Where(s => s.TraceId == trace.Id && s.ExternalId == runId && s.ParentSpanId == null)
            .Select(s => s.Attributes).FirstOrDefaultAsync(ct);
        if (attributes is null)
        {
            return false;
        }

        try
        {
            return JsonNode.Parse(attributes) is JsonObject o && o["run_type"] is JsonValue;
        }
        catch (JsonException)
        {
            return false;
        }
    }
}
