using System.Security.Cryptography;
using System.Text.Json.Nodes;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Notifications;
using Microsoft.EntityFrameworkCore;

namespace EvalPlatform.Core.LangSmith.Connector;

/// <summary>
/// Sends a queued review feedback to LangSmith for the outbox's delivery job (ADR 45). The first version is
/// <c>POST /api/v1/feedback</c> carrying the feedback's own <c>id</c>; LangSmith answering 409 (a retried POST that had
/// arrived) counts as created. Later versions are <c>PATCH /api/v1/feedback/{id}</c> (a 404 there, the feedback deleted in
/// LangSmith, creates it again). Only the latest queued version is sent: an older row, or one LangSmith already holds,
/// is superseded and delivered without a call. LangSmith's 429 <c>Retry-After</c> and 5xx become the outbox's retries.
/// Works across teams (the delivery job's scope): every read names the row's team.
/// </summary>
public sealed class LangSmithFeedbackDelivery(
    IEvalDbContextFactory dbFactory, LangSmithClient client, ILangSmithKeyProtector protector, TimeProvider clock) : IIntegrationDelivery
{
    public bool Takes(NotificationDelivery row) => row?.LangSmithConnectionId is not null;

    public async Task<SendOutcome> SendAsync(NotificationDelivery row, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(row);
        var item = Item.Read(row);
        await using var db = await dbFactory.CreateAsync(ct);
        var connection = await AcrossTeams.Connections(db).AsNoTracking()
            .SingleOrDefaultAsync(c => c.Id == row.LangSmithConnectionId && c.TeamId == row.TeamId, ct);
        if (connection is null)
        {
            return new SendOutcome(false, null, "The LangSmith connection was deleted.", Permanent: true);
        }

        var link = await AcrossTeams.Links(db).AsNoTracking().SingleOrDefaultAsync(l => l.Id == item.FeedbackId && l.TeamId == row.TeamId, ct);
        if (link is null)
        {
            return new SendOutcome(false, null, "The feedback's record was deleted.", Permanent: true);
        }

        if (item.Version < link.Version || item.Version <= link.SentVersion)
        {
            // A newer version is queued (it carries the whole current review), or LangSmith already holds this one.
            return new SendOutcome(true, null, null);
        }

        if (!connection.PushFeedback)
        {
            return new SendOutcome(false, null, "Sending reviews to LangSmith is switched off on the connection.", Permanent: true);
        }

        LangSmithEndpoint endpoint;
        try
        {
            endpoint = new LangSmithEndpoint(connection.ApiUrl, protector.Unprotect(row.TeamId, connection.ProtectedApiKey), connection.WorkspaceId);
        }
        catch (CryptographicException e)
        {
            return new SendOutcome(false, null, $"The connection's API key cannot be decrypted ({e.Message}); enter it again.", Permanent: true);
        }

        try
        {
            if (link.Created)
            {
                try
                {
                    await client.UpdateFeedbackAsync(endpoint, link.Id, item.Changes(), ct);
                }
                catch (LangSmithApiException e) when (e.Status == 404)
                {
                    await client.CreateFeedbackAsync(endpoint, item.Create(), ct);
                }
            }
            else
            {
                try
                {
                    await client.CreateFeedbackAsync(endpoint, item.Create(), ct);
                }
                catch (LangSmithApiException e) when (e.Status == 409)
                {
                    await client.UpdateFeedbackAsync(endpoint, link.Id, item.Changes(), ct);
                }
            }

            return SendOutcome.Ok(200);
        }
        catch (LangSmithApiException e)
        {
            return new SendOutcome(false, e.Status, e.Message, e.RetryAfter, Permanent: !e.Transient);
        }
    }

    public async Task RecordAsync(NotificationDelivery row, SendOutcome outcome, DeliveryStatus status, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(row);
        ArgumentNullException.ThrowIfNull(outcome);
        var item = Item.Read(row);
        var now = clock.GetUtcNow();
        await using var db = await dbFactory.CreateAsync(ct);
        var link = AcrossTeams.Links(db).Where(l => l.Id == item.FeedbackId && l.TeamId == row.TeamId);
        if (status == DeliveryStatus.Delivered)
        {
            if (outcome.StatusCode is not null)
            {
                await link.Where(l => l.SentVersion < item.Version).ExecuteUpdateAsync(s => s
                    .SetProperty(l => l.Created, true).SetProperty(l => l.SentVersion, item.Version).SetProperty(l => l.SentAt, now)
                    .SetProperty(l => l.LastError, (string?)null).SetProperty(l => l.UpdatedAt, now), ct);
            }

            await link.Where(l => l.Version <= l.SentVersion && l.Status != LangSmithFeedbackStatus.Sent)
                .ExecuteUpdateAsync(s => s.SetProperty(l => l.Status, LangSmithFeedbackStatus.Sent).SetProperty(l => l.UpdatedAt, now), ct);
            return;
        }

        // Only the latest version's fate is the feedback's: an older one is superseded whatever happened to it.
        var latest = link.Where(l => l.Version == item.Version);
        var error = NotificationDeliverer.Clip(outcome.Error);
        if (status == DeliveryStatus.Failed)
        {
            await latest.ExecuteUpdateAsync(s => s.SetProperty(l => l.Status, LangSmithFeedbackStatus.Failed)
                .SetProperty(l => l.LastError, error).SetProperty(l => l.UpdatedAt, now), ct);
        }
        else
        {
            await latest.ExecuteUpdateAsync(s => s.SetProperty(l => l.LastError, error).SetProperty(l => l.UpdatedAt, now), ct);
        }
    }

    /// <summary>The queued feedback as <see cref="LangSmithFeedback"/> wrote it into the row's payload.</summary>
    private sealed record Item(Guid FeedbackId, int Version, string RunId, string Key, double? Score, string? Comment, string? TraceId)
    {
        public static Item Read(NotificationDelivery row)
        {
            var d = StoredNotification.FromJson(row.Payload).Data;
            return new Item(
                Guid.Parse(d["feedback_id"]!.GetValue<string>()), d["version"]!.GetValue<int>(), d["run_id"]!.GetValue<string>(),
                d["key"]!.GetValue<string>(), d["score"]?.GetValue<double>(), d["comment"]?.GetValue<string>(), d["trace_id"]?.GetValue<string>());
        }

        /// <summary>
        /// <c>POST /feedback</c> as the SDK's <c>create_feedback</c> sends it; the source's metadata marks it as this platform's,
        /// so the import does not read it back as a score.
        /// </summary>
        public JsonObject Create() => new()
        {
            ["id"] = FeedbackId.ToString(),
            ["run_id"] = RunId,
            ["trace_id"] = RunId,
            ["key"] = Key,
            ["score"] = Score,
            ["comment"] = Comment,
            ["feedback_source"] = new JsonObject
            {
                ["type"] = "api",
                ["metadata"] = new JsonObject { ["evalplatform"] = true, ["evalplatform_trace_id"] = TraceId },
            },
        };

        /// <summary><c>PATCH /feedback/{id}</c>: the fields a review changes.</summary>
        public JsonObject Changes() => new() { ["score"] = Score, ["comment"] = Comment };
    }

    /// <summary>The delivery job works for every team: the one place in this file that leaves the query filter (each read names the team).</summary>
    private static class AcrossTeams
    {
        public static IQueryable<LangSmithConnection> Connections(IEvalDbContext db) => db.LangSmithConnections.IgnoreQueryFilters();

        public static IQueryable<LangSmithFeedbackLink> Links(IEvalDbContext db) => db.LangSmithFeedbackLinks.IgnoreQueryFilters();
    }
}
