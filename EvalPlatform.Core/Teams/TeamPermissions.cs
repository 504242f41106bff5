namespace EvalPlatform.Core.Teams;

/// <summary>
/// The one role-to-permission and scope-to-permission table (and what a signed webhook may do). Endpoints, services and the UI's
/// show/hide all ask it; nothing else decides who may do what.
/// </summary>
public static class TeamPermissions
{
    private static readonly Dictionary<TeamRole, Permission[]> ByRole = new()
    {
        [TeamRole.Viewer] = [Permission.ViewTraces],
        [TeamRole.Reviewer] = [Permission.ViewTraces, Permission.ReviewTraces, Permission.UsePlayground],
        [TeamRole.Admin] = [Permission.ViewTraces, Permission.ReviewTraces, Permission.ManageApiKeys, Permission.ManageTeam, Permission.ManageJobs, Permission.ManageNotifications, Permission.ManageAlerts, Permission.ManageExperiments, Permission.ViewAuditLog, Permission.ManageMembers, Permission.ManageProviders, Permission.ManageIntegrations, Permission.UsePlayground, Permission.ManageEvaluators, Permission.ManageSharedViews],
        [TeamRole.Owner] = [Permission.ViewTraces, Permission.ReviewTraces, Permission.ManageApiKeys, Permission.ManageTeam, Permission.ManageJobs, Permission.ManageNotifications, Permission.ManageAlerts, Permission.ManageExperiments, Permission.ViewAuditLog, Permission.ManageMembers, Permission.ManageProviders, Permission.ManageIntegrations, Permission.UsePlayground, Permission.ManageEvaluators, Permission.ManageSharedViews],
    };

    private static readonly Dictionary<ApiKeyScopes, Permission[]> ByScope = new()
    {
        [ApiKeyScopes.Ingest] = [Permission.IngestTraces],
        [ApiKeyScopes.Read] = [Permission.ViewTraces],
        [ApiKeyScopes.Admin] = [Permission.ViewTraces, Permission.ReviewTraces, Permission.ManageApiKeys, Permission.ManageNotifications, Permission.ManageAlerts, Permission.ManageExperiments, Permission.ViewAuditLog, Permission.ManageMembers, Permission.ManageProviders, Permission.ManageIntegrations, Permission.UsePlayground, Permission.ManageEvaluators, Permission.ManageSharedViews],
        [ApiKeyScopes.Review] = [Permission.ReviewTraces],
    };

    /// <summary>A signed webhook delivery only sends traces.</summary>
    private static readonly Permission[] ByWebhook = [Permission.IngestTraces];

    /// <summary>A background job acting for a team (computing its trends) only reads.</summary>
    private static readonly Permission[] ByJob = [Permission.ViewTraces];

    public static bool RoleHas(TeamRole role, Permission permission) =>
        ByRole.TryGetValue(role, out var granted) && granted.Contains(permission);

    public static bool ScopesHave(ApiKeyScopes scopes, Permission permission) =>
        ByScope.Any(pair => scopes.HasFlag(pair.Key) && pair.Value.Contains(permission));

    public static bool WebhookHas(Permission permission) => ByWebhook.Contains(permission);

    public static bool JobHas(Permission permission) => ByJob.Contains(permission);

    /// <summary>Each scope that on its own grants <paramref name="permission"/>, narrowest first (for route policies).</summary>
    public static IReadOnlyList<ApiKeyScopes> ScopesGranting(Permission permission) =>
        ByScope.Where(pair => pair.Value.Contains(permission)).OrderBy(pair => pair.Value.Length).Select(pair => pair.Key).ToList();
}
