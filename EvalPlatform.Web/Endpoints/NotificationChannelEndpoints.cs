using System.Globalization;
using EvalPlatform.Core.Common;
using EvalPlatform.Core.Notifications;
using EvalPlatform.Core.Teams;
using EvalPlatform.Web.Auth;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace EvalPlatform.Web.Endpoints;

/// <summary>
/// Notification channels (Slack, outbound webhooks) and their delivery logs: listed with a <c>read</c> key, managed with
/// an <c>admin</c> key. Secrets are accepted, never returned (a webhook's signing secret once, in the creation's answer).
/// </summary>
public static class NotificationChannelEndpoints
{
    /// <summary>A channel to create or edit; on an edit, secret fields left out keep the stored secret.</summary>
    public sealed record ChannelRequest(
        string? Name, string? Type, string? Url, string? Token, string? Channel, string? Secret,
        IReadOnlyList<string>? EventTypes, bool? RejectedOnly, IReadOnlyList<string>? RejectionReasons,
        Dictionary<string, System.Text.Json.JsonElement>? Filters = null)
    {
        public ChannelInput ToInput() => new(Name, Type, Url, Token, Channel, Secret, EventTypes, RejectedOnly ?? false, RejectionReasons, Filters);
    }

    public sealed record ChannelsResponse(IReadOnlyList<ChannelInfo> Items);

    /// <param name="Channel">The channel as listed from now on.</param>
    /// <param name="Secret">A webhook channel's signing secret: shown in this answer only.</param>
    public sealed record CreatedChannelResponse(ChannelInfo Channel, string? Secret);

    public sealed record TestResponse(bool Delivered, int? StatusCode, string? Error);

    public static RouteGroupBuilder MapNotificationChannelEndpoints(this RouteGroupBuilder api)
    {
        var channels = api.MapGroup("/notification-channels").WithTags("Notifications");
        channels.MapGet("/", ListAsync).RequirePermission(Permission.ViewTraces)
            .WithName("ListNotificationChannels").WithSummary("The team's notification channels (never their secrets)");
        channels.MapPost("/", CreateAsync).RequirePermission(Permission.ManageNotifications)
            .WithName("CreateNotificationChannel").WithSummary("Add a channel: slack_webhook {url}, slack_bot {token, channel} or webhook {url, secret}");
        channels.MapGet("/{id:guid}", GetAsync).RequirePermission(Permission.ViewTraces)
            .WithName("GetNotificationChannel").WithSummary("One channel, with its last error");
        channels.MapPut("/{id:guid}", UpdateAsync).RequirePermission(Permission.ManageNotifications)
            .WithName("UpdateNotificationChannel").WithSummary("Edit a channel; secret fields left out keep the stored secret");
        channels.MapDelete("/{id:guid}", DeleteAsync).RequirePermission(Permission.ManageNotifications)
            .WithName("DeleteNotificationChannel").WithSummary("Delete a channel and its delivery log");
        channels.MapPost("/{id:guid}/test", TestAsync).RequirePermission(Permission.ManageNotifications)
            .WithName("TestNotificationChannel").WithSummary("Send a test message now and say how it went");
        channels.MapGet("/{id:guid}/deliveries", DeliveriesAsync).RequirePermission(Permission.ViewTraces)
            .WithName("ListNotificationDeliveries").WithSummary("The channel's delivery log, newest first, by cursor");
        channels.MapPost("/{id:guid}/deliveries/{deliveryId:guid}/redeliver", RedeliverAsync).RequirePermission(Permission.ManageNotifications)
            .WithName("RedeliverNotification").WithSummary("Send a delivery's event again (same event id)");
        return channels;
    }

    private static async Task<Ok<ChannelsResponse>> ListAsync(NotificationChannelService service, CancellationToken ct) =>
        TypedResults.Ok(new ChannelsResponse(await service.ListAsync(ct)));

    private static async Task<Created<CreatedChannelResponse>> CreateAsync(ChannelRequest body, NotificationChannelService service, CancellationToken ct)
    {
        var created = await service.CreateAsync(body.ToInput(), ct);
        return TypedResults.Created($"/api/v1/notification-channels/{created.Channel.Id}", new CreatedChannelResponse(created.Channel, created.Secret));
    }

    private static async Task<Ok<ChannelInfo>> GetAsync(Guid id, NotificationChannelService service, CancellationToken ct) =>
        TypedResults.Ok(await service.GetAsync(id, ct));

    private static async Task<Ok<ChannelInfo>> UpdateAsync(Guid id, ChannelRequest body, NotificationChannelService service, CancellationToken ct) =>
        TypedResults.Ok(await service.UpdateAsync(id, body.ToInput(), ct));

    private static async Task<NoContent> DeleteAsync(Guid id, NotificationChannelService service, CancellationToken ct)
    {
        await service.DeleteAsync(id, ct);
        return TypedResults.NoContent();
    }

    private static async Task<Ok<TestResponse>> TestAsync(Guid id, NotificationChannelService service, CancellationToken ct)
    {
        var outcome = await service.SendTestAsync(id, ct);
        return TypedResults.Ok(new TestResponse(outcome.Delivered, outcome.StatusCode, outcome.Error));
    }

    private static async Task<Ok<DeliveryPage>> DeliveriesAsync(
        Guid id, NotificationChannelService service, CancellationToken ct, [FromQuery] string? cursor = null, [FromQuery] string? limit = null)
    {
        var size = NotificationChannelService.DefaultPageSize;
        if (limit is not null && !int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out size))
        {
            throw new DomainValidationException("limit", $"Must be a whole number from 1 to {NotificationChannelService.MaxPageSize}.");
        }

        return TypedResults.Ok(await service.DeliveriesAsync(id, cursor, size, ct));
    }

    private static async Task<Accepted<DeliveryInfo>> RedeliverAsync(Guid id, Guid deliveryId, NotificationChannelService service, CancellationToken ct)
    {
        var copy = await service.RedeliverAsync(id, deliveryId, ct);
        return TypedResults.Accepted($"/api/v1/notification-channels/{id}/deliveries", copy);
    }
}
