using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;

namespace EvalPlatform.Tests.Unit.Teams;

public sealed class TeamPermissionsTests
{
    [Theory]
    [InlineData(TeamRole.Viewer, Permission.ViewTraces, true)]
    [InlineData(TeamRole.Viewer, Permission.ReviewTraces, false)]
    [InlineData(TeamRole.Viewer, Permission.ManageApiKeys, false)]
    [InlineData(TeamRole.Reviewer, Permission.ReviewTraces, true)]
    [InlineData(TeamRole.Reviewer, Permission.ManageApiKeys, false)]
    [InlineData(TeamRole.Admin, Permission.ManageApiKeys, true)]
    [InlineData(TeamRole.Admin, Permission.ManageTeam, true)]
    [InlineData(TeamRole.Owner, Permission.ManageTeam, true)]
    [InlineData(TeamRole.Reviewer, Permission.ManageAlerts, false)]
    [InlineData(TeamRole.Admin, Permission.ManageAlerts, true)]
    [InlineData(TeamRole.Owner, Permission.ManageAlerts, true)]
    [InlineData(TeamRole.Reviewer, Permission.ManageMembers, false)]
    [InlineData(TeamRole.Admin, Permission.ManageMembers, true)]
    [InlineData(TeamRole.Owner, Permission.ManageMembers, true)]
    public void RoleHas_FollowsTheTable(TeamRole role, Permission permission, bool expected)
    {
        Assert.Equal(expected, TeamPermissions.RoleHas(role, permission));
    }

    [Theory]
    [InlineData(ApiKeyScopes.Ingest, Permission.IngestTraces, true)]
    [InlineData(ApiKeyScopes.Ingest, Permission.ViewTraces, false)]
    [InlineData(ApiKeyScopes.Read, Permission.ViewTraces, true)]
    [InlineData(ApiKeyScopes.Read, Permission.IngestTraces, false)]
    [InlineData(ApiKeyScopes.Admin, Permission.ManageApiKeys, true)]
    [InlineData(ApiKeyScopes.Ingest | ApiKeyScopes.Read, Permission.ManageApiKeys, false)]
    [InlineData(ApiKeyScopes.Review, Permission.ReviewTraces, true)]
    [InlineData(ApiKeyScopes.Review, Permission.ViewTraces, false)]
    [InlineData(ApiKeyScopes.Read, Permission.ReviewTraces, false)]
    [InlineData(ApiKeyScopes.Admin, Permission.ManageAlerts, true)]
    [InlineData(ApiKeyScopes.Read, Permission.ManageAlerts, false)]
    [InlineData(ApiKeyScopes.Admin, Permission.ManageMembers, true)]
    [InlineData(ApiKeyScopes.Read | ApiKeyScopes.Review, Permission.ManageMembers, false)]
    public void ScopesHave_FollowsTheTable(ApiKeyScopes scopes, Permission permission, bool expected)
    {
        Assert.Equal(expected, TeamPermissions.ScopesHave(scopes, permission));
    }

    [Theory]
    [InlineData(Permission.IngestTraces, true)]
    [InlineData(Permission.ViewTraces, false)]
    [InlineData(Permission.ReviewTraces, false)]
    [InlineData(Permission.ManageApiKeys, false)]
    [InlineData(Permission.ManageTeam, false)]
    public void AWebhook_MayOnlyIngest(Permission permission, bool expected)
    {
        var context = new TeamContext();
        context.SetWebhook(Guid.NewGuid(), "github");

        Assert.Equal(expected, TeamPermissions.WebhookHas(permission));
        Assert.Equal(expected, context.Can(permission));
    }

    [Fact]
    public void ScopesGranting_Review_IsTheReviewScopeFirst_ThenAdmin()
    {
        Assert.Equal([ApiKeyScopes.Review, ApiKeyScopes.Admin], TeamPermissions.ScopesGranting(Permission.ReviewTraces));
    }

    [Fact]
    public void TeamContext_WithoutATeam_CanNothing()
    {
        var context = new TeamContext();
        Assert.All(Enum.GetValues<Permission>(), p => Assert.False(context.Can(p)));
    }

    [Fact]
    public void TeamContext_ForAKey_UsesItsScopes_NotARole()
    {
        var context = new TeamContext();
        context.SetApiKey(Guid.NewGuid(), Guid.NewGuid(), ApiKeyScopes.Ingest);

        Assert.True(context.Can(Permission.IngestTraces));
        Assert.False(context.Can(Permission.ViewTraces));
        Assert.Null(context.Role);
    }
}
