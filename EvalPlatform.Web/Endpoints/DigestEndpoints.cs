using EvalPlatform.Core.Digests;
using EvalPlatform.Core.Teams;
using EvalPlatform.Web.Auth;
using Microsoft.AspNetCore.Http.HttpResults;

namespace EvalPlatform.Web.Endpoints;

/// <summary>
/// The team's time zone and daily digest: read with a <c>read</c> key, changed and previewed with an <c>admin</c> key.
/// </summary>
public static class DigestEndpoints
{
    /// <param name="TimeZone">IANA time zone, e.g. <c>Europe/Berlin</c>.</param>
    /// <param name="Enabled">Whether the daily digest is sent.</param>
    /// <param name="Time">Local time of day, <c>HH:mm</c>.</param>
    /// <param name="NextAt">When the next digest is due (UTC), when enabled.</param>
    public sealed record DigestSettingsResponse(string TimeZone, bool Enabled, string Time, DateTimeOffset? NextAt)
    {
        public static DigestSettingsResponse Of(DigestSettings s) => new(s.TimeZone, s.Enabled, DigestService.FormatTime(s.Time), s.NextAt);
    }

    /// <summary>A change; fields left out keep their value.</summary>
    public sealed record DigestSettingsRequest(string? TimeZone, bool? Enabled, string? Time);

    /// <param name="Title">The notification's title, or null.</param>
    /// <param name="Text">Its plain text, or null.</param>
    /// <param name="Link">Its app-relative link to the dashboard for that day, or null.</param>
    /// <param name="Digest">Yesterday's digest as it would be sent (its <c>digest.daily</c> data), or null when the team has never had a trace.</param>
    public sealed record DigestPreviewResponse(string? Title, string? Text, string? Link, System.Text.Json.Nodes.JsonObject? Digest);

    public static RouteGroupBuilder MapDigestEndpoints(this RouteGroupBuilder api)
    {
        var digest = api.MapGroup("/team/digest").WithTags("Notifications");
        digest.MapGet("/", GetAsync).RequirePermission(Permission.ViewTraces)
            .WithName("GetDigestSettings").WithSummary("The team's time zone and daily digest settings");
        digest.MapPut("/", UpdateAsync).RequirePermission(Permission.ManageNotifications)
            .WithName("UpdateDigestSettings").WithSummary("Change the time zone (IANA), turn the digest on or off, set its local time (HH:mm)");
        digest.MapGet("/preview", PreviewAsync).RequirePermission(Permission.ManageNotifications)
            .WithName("PreviewDigest").WithSummary("Yesterday's digest (team time zone) as it would be sent; sends nothing");
        return digest;
    }

    private static async Task<Ok<DigestSettingsResponse>> GetAsync(DigestService service, CancellationToken ct) =>
        TypedResults.Ok(DigestSettingsResponse.Of(await service.GetAsync(ct)));

    private static async Task<Ok<DigestSettingsResponse>> UpdateAsync(DigestSettingsRequest body, DigestService service, CancellationToken ct) =>
        TypedResults.Ok(DigestSettingsResponse.Of(await service.UpdateAsync(new DigestSettingsInput(body.TimeZone, body.Enabled, body.Time), ct)));

    private static async Task<Ok<DigestPreviewResponse>> PreviewAsync(DigestService service, CancellationToken ct)
    {
        var digest = await service.PreviewAsync(ct);
        return TypedResults.Ok(digest is null
            ? new DigestPreviewResponse(null, null, null, null)
            : new DigestPreviewResponse(DigestNotification.Title(digest), DigestNotification.Text(digest), DigestNotification.DashboardLink(digest), DigestNotification.Data(digest)));
    }
}
