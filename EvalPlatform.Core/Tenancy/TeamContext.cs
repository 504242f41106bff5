using EvalPlatform.Core.Teams;

namespace EvalPlatform.Core.Tenancy;

/// <summary>The scoped, settable <see cref="ITeamContext"/>: set once per request or circuit.</summary>
public sealed class TeamContext : ITeamContext
{
    public Guid? TeamId { get; private set; }
    public string? UserId { get; private set; }
    public TeamRole? Role { get; private set; }
    public Guid? ApiKeyId { get; private set; }
    public ApiKeyScopes Scopes { get; private set; }
    public string? WebhookSource { get; private set; }

    public void SetMember(Guid teamId, string userId, TeamRole role)
    {
        TeamId = teamId;
        UserId = userId;
        Role = role;
        ApiKeyId = null;
        Scopes = ApiKeyScopes.None;
        WebhookSource = null;
    }

    public void SetApiKey(Guid teamId, Guid apiKeyId, ApiKeyScopes scopes)
    {
        TeamId = teamId;
        UserId = null;
        Role = null;
        ApiKeyId = apiKeyId;
        Scopes = scopes;
        WebhookSource = null;
    }

    /// <summary>A webhook delivery whose signature matched one of <paramref name="teamId"/>'s webhook secrets.</summary>
    public void SetWebhook(Guid teamId, string source)
    {
        TeamId = teamId;
        UserId = null;
        Role = null;
        ApiKeyId = null;
        Scopes = ApiKeyScopes.None;
        WebhookSource = source;
    }

    public void Clear()
    {
        TeamId = null;
        UserId = null;
        Role = null;
        ApiKeyId = null;
        Scopes = ApiKeyScopes.None;
        WebhookSource = null;
    }

    public bool Can(Permission permission) =>
        TeamId is not null && (Role is { } role
            ? TeamPermissions.RoleHas(role, permission)
            : WebhookSource is not null
                ? TeamPermissions.WebhookHas(permission)
                : TeamPermissions.ScopesHave(Scopes, permission));
}
