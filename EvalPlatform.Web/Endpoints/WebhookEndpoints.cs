using System.Diagnostics;
using System.Text.Json;
using EvalPlatform.Core.Ingestion;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Core.Traces;
using EvalPlatform.Core.Webhooks;
using EvalPlatform.Web.Ingestion;
using EvalPlatform.Web.RateLimits;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using static EvalPlatform.Web.Endpoints.TraceEndpoints;

namespace EvalPlatform.Web.Endpoints;

/// <summary>
/// Inbound webhooks for systems that can only fire one: <c>POST /api/v1/webhooks/{source}?team=&lt;team id&gt;</c>
/// with a trace (or an array of them) as the body, signed with the team's webhook secret in
/// <c>X-EvalPlatform-Signature</c>. No API key: the signature proves the sender, and only then is
/// the request's team set (to a webhook actor that may only ingest). See ADR 8.
/// </summary>
public static class WebhookEndpoints
{
    /// <summary>The same detail for an unknown team, a team without webhooks and a wrong signature: none says which.</summary>
    private const string NoMatch = "The signature does not match a webhook secret of this team.";

    public static RouteGroupBuilder MapWebhookEndpoints(this RouteGroupBuilder api)
    {
        api.MapPost("/webhooks/{source}", ReceiveAsync)
            .AllowAnonymous()
            .WithMetadata(new LimitByAddressAttribute(AddressLimit.Webhooks))
            .WithTags("Webhooks").WithName("ReceiveWebhook")
            .WithSummary("A trace, or a JSON array of traces, from a system that can only fire a webhook; signed with the team's webhook secret, no API key")
            .Accepts<JsonElement>("application/json");
        return api;
    }

    private static async Task<Results<Created<IngestedTrace>, Ok<IngestedTrace>, Created<BatchResponse>, Ok<BatchResponse>, ProblemHttpResult>> ReceiveAsync(
        string source, [FromQuery] string? team, HttpRequest request, WebhookAuthenticator authenticator, TeamContext teamContext,
        TraceIngestionService ingestion, IWebhookReplayGuard replays, RateLimitService limits, TimeProvider clock, ILoggerFactory logs, CancellationToken ct)
    {
        var log = logs.CreateLogger(typeof(WebhookEndpoints));
        if (!WebhookSource.IsValid(source))
        {
            throw new InputValidationException([new FieldError("source", $"1 to {WebhookSource.MaxLength} characters of a-z, 0-9, '_' and '-'.")]);
        }

        if (!Guid.TryParse(team, out var teamId))
        {
            throw new InputValidationException([new FieldError("team", "Required: the team id from the webhook URL shown under Settings → Webhooks.")]);
        }

        // Cheap refusals first: no body, no database.
        if (!WebhookSignature.TryParse(request.Headers[WebhookSignature.HeaderName].ToString(), out var signature, out var headerError))
        {
            return Refuse(request, log, teamId, source, headerError);
        }

        if (WebhookSignature.CheckTimestamp(signature.Timestamp, clock.GetUtcNow()) is { } stale)
        {
            return Refuse(request, log, teamId, source, stale);
        }

        // The body is read (415, 413) before the team's secrets are looked at, so those answers are
        // the same for every team id: only the signature check below tells teams apart, and it
        // answers an unknown team, a team without webhooks and a wrong signature alike.
        var body = await JsonBody.ReadBytesAsync(request, IngestionLimits.MaxBatchBytes, ct);
        var secrets = await authenticator.ActiveSecretsAsync(teamId, ct);
        // The path as sent (with the query: the team), so a delivery signed for one source or team is no good for another.
        var path = $"{request.PathBase}{request.Path}{request.QueryString}";
        if (!WebhookSignature.Verify(secrets, signature, body.Span, path))
        {
            return Refuse(request, log, teamId, source, NoMatch);
        }

        // Counted against the team only once it proved itself (nobody else can use up a team's limit), and before the replay
        // memory, so a delivery refused here can be sent again.
        await limits.CheckTeamAsync(teamId, ct);

        // Only a delivery that proved itself is remembered: nobody else can fill the memory or block a sender.
        if (!await replays.TryFirstUseAsync(WebhookReplay.Key(teamId, signature.Timestamp, path, body.Span), WebhookReplay.Remember(signature.Timestamp, clock.GetUtcNow()), ct))
        {
            log.LogWarning("Webhook replay refused for team {TeamId}, source {Source}, from {RemoteIp}", teamId, source, request.HttpContext.Connection.RemoteIpAddress);
            return TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Delivery already received",
                detail: "This delivery (same timestamp, path and body) was already received. Sign each delivery, and each retry, when it is sent.");
        }

        teamContext.SetWebhook(teamId, source);
        using var document = JsonBody.Parse(body);
        var root = document.RootElement;
        var isArray = root.ValueKind == JsonValueKind.Array;
        var items = isArray ? root.EnumerateArray().ToList() : [root];
        if (isArray && (items.Count == 0 || items.Count > IngestionLimits.MaxBatchTraces))
        {
            throw new InputValidationException([new FieldError("$", $"Send 1 to {IngestionLimits.MaxBatchTraces} traces per delivery (got {items.Count}).")]);
        }

        var outcome = await ingestion.IngestWebhookAsync(items, isArray, WebhookSource.Tag(source), ct);
        return (isArray ? Many(outcome).Result : One(outcome).Result) switch
        {
            Created<IngestedTrace> created => created,
            Ok<IngestedTrace> existing => existing,
            Created<BatchResponse> batch => batch,
            Ok<BatchResponse> partial => partial,
            ProblemHttpResult problem => problem,
            var other => throw new UnreachableException($"Unexpected answer {other.GetType().Name}."),
        };
    }

    /// <summary>401 naming the header. Logged without the secret or the signature: who claimed which team, and why it failed.</summary>
    private static ProblemHttpResult Refuse(HttpRequest request, ILogger log, Guid teamId, string source, string reason)
    {
        log.LogWarning("Webhook refused for team {TeamId}, source {Source}, from {RemoteIp}: {Reason}",
            teamId, source, request.HttpContext.Connection.RemoteIpAddress, reason);
        request.HttpContext.Response.Headers.WWWAuthenticate = "EvalPlatform-Signature";
        return TypedResults.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Unauthorized", detail: reason,
            extensions: new Dictionary<string, object?> { ["errors"] = new Dictionary<string, string[]> { [WebhookSignature.HeaderName] = [reason] } });
    }
}
