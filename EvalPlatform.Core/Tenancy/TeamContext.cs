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

    /// <summary>The background job acting for the team, when one does (it may only read).</summary>
    public string? JobName { get; private set; }

    public void SetMember(Guid teamId, string userId, TeamRole role)
    {
        TeamId = teamId;
        UserId = userId;
        Role = role;
        ApiKeyId = null;
        Scopes = ApiKeyScopes.None;
        WebhookSource = null;
        JobName = null;
    }

    public void SetApiKey(Guid teamId, Guid apiKeyId, ApiKeyScopes scopes)
    {
        TeamId = teamId;
        UserId = null;
        Role = null;
        ApiKeyId = apiKeyId;
        Scopes = scopes;
        WebhookSource = null;
        JobName = null;
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
        JobName = null;
    }

    /// <summary>
    /// A background job (e.g. the hourly trends job) acting for <paramref name="teamId"/> in a scope of its own, one team
    /// at a time, so the team's query filter and permission checks apply to it as to a request. It may only read.
    /// </summary>
    public void SetJob(Guid teamId, string jobName)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(jobName);
        TeamId = teamId;
        UserId = null;
        Role = null;
        ApiKeyId = null;
        Scopes = ApiKeyScopes.None;
        WebhookSource = null;
        JobName = jobName;
    }

    public void Clear()
    {
        TeamId = null;
        UserId = null;
        Role = null;
        ApiKeyId = null;
        Scopes = ApiKeyScopes.None;
        WebhookSource = null;
        JobName = null;
    }

    public bool Can(Permission permission) =>
        TeamId is not null && (Role is { } role
            ? TeamPermissions.RoleHas(role, permission)
            : WebhookSource is not null
                ? TeamPermissions.WebhookHas(permission)
                : JobName is not null
                    ? TeamPermissions.JobHas(permission)
                    : TeamPermissions.ScopesHave(Scopes, permission));
}
