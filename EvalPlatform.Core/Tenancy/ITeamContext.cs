using EvalPlatform.Core.Teams;

namespace EvalPlatform.Core.Tenancy;

/// <summary>
/// Who is acting, for which team, in the current scope (an HTTP request or a Blazor circuit).
/// The team comes from the signed-in member's chosen team or from the API key, never from a
/// request body (a webhook's team is proven by its signature). Until it is set, <see cref="TeamId"/> is null and team-owned queries return nothing.
/// </summary>
public interface ITeamContext
{
    Guid? TeamId { get; }

    /// <summary>The acting user's id, when a signed-in member acts.</summary>
    string? UserId { get; }

    /// <summary>The member's role in <see cref="TeamId"/>, when a signed-in member acts.</summary>
    TeamRole? Role { get; }

    /// <summary>The API key's id, when a client acts with an API key.</summary>
    Guid? ApiKeyId { get; }

    /// <summary>The API key's scopes, when a client acts with an API key.</summary>
    ApiKeyScopes Scopes { get; }

    /// <summary>The webhook's source label, when a signed webhook delivery acts (it may only ingest).</summary>
    string? WebhookSource { get; }

    /// <summary>True when the actor (member role or key scopes) holds <paramref name="permission"/>.</summary>
    bool Can(Permission permission);
}
