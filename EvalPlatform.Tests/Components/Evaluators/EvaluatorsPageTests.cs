using Bunit;
using EvalPlatform.Core.Common;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Evaluators;
using EvalPlatform.Core.Outbound;
using EvalPlatform.Core.Providers;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Tests.Infrastructure;
using EvalPlatform.Web.Components.Layout;
using EvalPlatform.Web.Components.Pages.Evaluators;
using EvalPlatform.Web.Providers;
using Microsoft.AspNetCore.Components;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace EvalPlatform.Tests.Components.Evaluators;

/// <summary>/evaluators against the real services: empty state, role-dependent creation, the editor's field errors, saving.</summary>
public sealed class EvaluatorsPageTests : BunitTestBase
{
    public EvaluatorsPageTests()
    {
        Services.AddEvalProviderClients();
        Services.AddHybridCache();
        Services.Configure<OutboundOptions>(o => o.AllowPrivateTargets = true);
    }

    private async Task<(TestTeam Team, IRenderedComponent<TestHost> Cut)> RenderAsync(TeamRole role, bool withConnection = true)
    {
        var owner = await TestData.CreateTeamAsync(Services);
        var (userId, email) = role == TeamRole.Owner ? (owner.OwnerId, owner.OwnerEmail) : await TestData.CreateMemberAsync(Services, owner.Id, role);
        Services.GetRequiredService<TeamContext>().SetMember(owner.Id, userId, role);
        if (withConnection)
        {
            await using var db = await Services.GetRequiredService<IEvalDbContextFactory>().CreateAsync();
            var now = TimeProvider.System.GetUtcNow();
            db.AllowCrossTeamWrites();
            db.ProviderConnections.Add(new ProviderConnection
            {
                Id = Uuid7.Create(now), TeamId = owner.Id, Kind = ProviderKind.OpenAi, Name = "judge", BaseUrl = "http://127.0.0.1:9/v1",
                ProtectedApiKey = Services.GetRequiredService<IProviderKeyProtector>().Protect(owner.Id, "sk-test-0000"), KeyHint = "0000", CreatedAt = now,
            });
            await db.SaveChangesAsync();
        }

        var team = new CurrentTeam(userId, email, new Membership(owner.Id, owner.Name, role, null), []);
        return (owner, Render<TestHost>(p => p.Add(h => h.Team, team).AddChildContent<EvaluatorsPage>()));
    }

    private static void Type(IRenderedComponent<TestHost> cut, string testId, string value) =>
        cut.FindAll($"input[data-testid={testId}], [data-testid={testId}] input, [data-testid={testId}] textarea")[0].Change(value);

    [Fact]
    public async Task Viewer_SeesTheEmptyState_WithoutTheNewButton()
    {
        var (_, cut) = await RenderAsync(TeamRole.Viewer);
        cut.WaitForAssertion(() => Assert.NotNull(cut.Find("[data-testid=evaluators-empty]")));
        Assert.Empty(cut.FindAll("[data-testid=evaluator-new]"));
    }

    [Fact]
    public async Task Owner_CreatesAnEvaluator_AfterAFieldError_AndLandsOnItsPage()
    {
        var (team, cut) = await RenderAsync(TeamRole.Owner);
        cut.WaitForAssertion(() => Assert.NotNull(cut.Find("[data-testid=evaluator-new]")));
        await cut.Find("[data-testid=evaluator-new]").ClickAsync(new());
        cut.WaitForAssertion(() => Assert.NotNull(cut.Find("[data-testid=evaluator-save]")));

        Type(cut, "evaluator-model", "gpt-4o-mini");
        await cut.Find("[data-testid=evaluator-save]").ClickAsync(new());
        cut.WaitForAssertion(() => Assert.Contains("'name' is required", cut.Find("[data-testid=evaluator-editor-error]").TextContent, StringComparison.Ordinal));

        Type(cut, "evaluator-name", "helpfulness");
        await cut.Find("[data-testid=evaluator-save]").ClickAsync(new());

        Evaluator? saved = null;
        await using (var db = await Services.GetRequiredService<IEvalDbContextFactory>().CreateAsync())
        {
            saved = await db.Evaluators.AsNoTracking().SingleOrDefaultAsync(e => e.Name == "helpfulness");
        }

        Assert.NotNull(saved);
        Assert.Equal(team.Id, saved.TeamId);
        Assert.EndsWith($"/evaluators/{saved.Id}", Services.GetRequiredService<NavigationManager>().Uri, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WithoutConnections_TheEditorPointsToProviders()
    {
        var (_, cut) = await RenderAsync(TeamRole.Owner, withConnection: false);
        cut.WaitForAssertion(() => Assert.NotNull(cut.Find("[data-testid=evaluator-new]")));
        await cut.Find("[data-testid=evaluator-new]").ClickAsync(new());
        cut.WaitForAssertion(() => Assert.NotNull(cut.Find("[data-testid=evaluator-no-connections]")));
    }
}
