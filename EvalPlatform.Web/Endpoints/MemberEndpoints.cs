using System.Text.Json;
using EvalPlatform.Core.Common;
using EvalPlatform.Core.Teams;
using EvalPlatform.Web.Auth;
using EvalPlatform.Web.Ingestion;
using EvalPlatform.Web.Members;
using EvalPlatform.Web.Notifications;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace EvalPlatform.Web.Endpoints;

/// <summary>The team's members and invitations for unattended set-up (<c>admin</c> scope). Role changes stay in the UI.</summary>
public static class MemberEndpoints
{
    public sealed record MemberResponse(string UserId, string? Email, string? DisplayName, string Role, DateTimeOffset JoinedAt, DateTimeOffset? LastSignInAt);

    public sealed record InvitationResponse(Guid Id, string Email, string Role, string Status, DateTimeOffset CreatedAt, DateTimeOffset ExpiresAt);

    /// <summary>A new invitation: <see cref="Link"/> is returned once; <see cref="Mailed"/> says whether the SMTP server accepted it.</summary>
    public sealed record CreatedInvitationResponse(Guid Id, string Email, string Role, string Status, DateTimeOffset CreatedAt, DateTimeOffset ExpiresAt, string Link, bool Mailed);

    /// <summary>The body of a new invitation, for the API description (the endpoint reads the JSON itself to name each bad field).</summary>
    public sealed record CreateInvitationRequest(string Email, string Role);

    public const int MaxBodyBytes = 4 * 1024;

    public static RouteGroupBuilder MapMemberEndpoints(this RouteGroupBuilder api)
    {
        api.MapGet("/members", ListMembersAsync)
            .WithName("ListMembers").WithSummary("The team's members with their roles and last sign-in").WithTags("Members")
            .RequirePermission(Permission.ManageMembers);
        api.MapGet("/invitations", ListInvitationsAsync)
            .WithName("ListInvitations").WithSummary("The team's pending (and expired) invitations, never their links").WithTags("Members")
            .RequirePermission(Permission.ManageMembers);
        api.MapPost("/invitations", CreateInvitationAsync)
            .WithName("CreateInvitation").WithSummary("Invite an e-mail address as viewer, reviewer or admin; the link is returned once").WithTags("Members")
            .RequirePermission(Permission.ManageMembers)
            .Accepts<CreateInvitationRequest>("application/json");
        api.MapDelete("/invitations/{id:guid}", RevokeInvitationAsync)
            .WithName("RevokeInvitation").WithSummary("Revoke a pending invitation: its link stops working").WithTags("Members")
            .RequirePermission(Permission.ManageMembers);
        return api;
    }

    private static async Task<Ok<List<MemberResponse>>> ListMembersAsync(MemberService members, CancellationToken ct)
    {
        var list = await members.ListAsync(ct);
        return TypedResults.Ok(list.Select(m => new MemberResponse(m.UserId, m.Email, m.DisplayName, RoleName(m.Role), m.JoinedAt, m.LastSignInAt)).ToList());
    }

    private static async Task<Ok<List<InvitationResponse>>> ListInvitationsAsync(InvitationService invitations, CancellationToken ct)
    {
        var list = await invitations.ListPendingAsync(ct);
        return TypedResults.Ok(list.Select(ToResponse).ToList());
    }

    private static async Task<Created<CreatedInvitationResponse>> CreateInvitationAsync(
        HttpRequest request, InvitationService invitations, IOptionsMonitor<AppOptions> app, CancellationToken ct)
    {
        using var body = await JsonBody.ReadAsync(request, MaxBodyBytes, ct);
        var email = Text(body.RootElement, "email");
        var role = Text(body.RootElement, "role")?.Trim().ToLowerInvariant() switch
        {
            "viewer" => TeamRole.Viewer,
            "reviewer" => TeamRole.Reviewer,
            "admin" => TeamRole.Admin,
            _ => throw new DomainValidationException("role", "'role' must be viewer, reviewer or admin."),
        };
        var reachedAt = $"{request.Scheme}://{request.Host}{request.PathBase}/";
        var issued = await invitations.InviteAsync(email ?? "", role, InvitationLinks.Base(app.CurrentValue, reachedAt), ct);
        var i = issued.Info;
        return TypedResults.Created(
            $"/api/v1/invitations/{i.Id}",
            new CreatedInvitationResponse(i.Id, i.Email, RoleName(i.Role), StatusName(i.Status), i.CreatedAt, i.ExpiresAt, issued.Link, issued.Mail?.Sent == true));
    }

    private static async Task<Ok<InvitationResponse>> RevokeInvitationAsync(Guid id, InvitationService invitations, CancellationToken ct) =>
        TypedResults.Ok(ToResponse(await invitations.RevokeAsync(id, ct)));

    private static string? Text(JsonElement root, string field) =>
        root.ValueKind != JsonValueKind.Object
            ? throw new DomainValidationException("$", "Send {\"email\": \"ana@example.com\", \"role\": \"reviewer\"}.")
            : !root.TryGetProperty(field, out var value) || value.ValueKind == JsonValueKind.Null
                ? null
                : value.ValueKind == JsonValueKind.String
                    ? value.GetString()
                    : throw new DomainValidationException(field, $"'{field}' must be a string.");

    private static InvitationResponse ToResponse(InvitationInfo i) => new(i.Id, i.Email, RoleName(i.Role), StatusName(i.Status), i.CreatedAt, i.ExpiresAt);

    private static string RoleName(TeamRole role) => TeamRoleText.Format(role);

    private static string StatusName(InvitationStatus status) => JsonNamingPolicy.SnakeCaseLower.ConvertName(status.ToString());
}
