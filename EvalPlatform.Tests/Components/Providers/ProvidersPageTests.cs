using Bunit;
using EvalPlatform.Core.Outbound;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Tests.Infrastructure;
using EvalPlatform.Web.Components.Layout;
using EvalPlatform.Web.Components.Pages.Settings;
using EvalPlatform.Web.Providers;
using Microsoft.Extensions.DependencyInjection;

namespace EvalPlatform.Tests.Components.Providers;

/// <summary>Settings → Providers against the real services and a fake OpenAI on loopback (private targets allowed for it).</summary>
public sealed class ProvidersPageTests : BunitTestBase
{
    private FakeOpenAiServer _openAi = default!;

    public ProvidersPageTests()
    {
        Services.AddEvalProviderClients();
        Services.Configure<OutboundOptions>(o => o.AllowPrivateTargets = true);
    }

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        _openAi = await FakeOpenAiServer.StartNewAsync();
    }

    protected override async Task CleanupAsync() => await _openAi.DisposeAsync();

    private async Task<IRenderedComponent<TestHost>> RenderAsync(TeamRole role)
    {
        var owner = await TestData.CreateTeamAsync(Services);
        var (userId, email) = role == TeamRole.Owner ? (owner.OwnerId, owner.OwnerEmail) : await TestData.CreateMemberAsync(Services, owner.Id, role);
        var team = new CurrentTeam(userId, email, new Membership(owner.Id, owner.Name, role, null), []);
        Services.GetRequiredService<TeamContext>().SetMember(owner.Id, userId, role);
        return Render<TestHost>(p => p.Add(h => h.Team, team).AddChildContent<ProvidersPage>());
    }

    private static AngleSharp.Dom.IElement Input(IRenderedComponent<TestHost> cut, string id) => cut.FindAll($"input[data-testid={id}], [data-testid={id}] input")[0];

    private static void Type(IRenderedComponent<TestHost> cut, string testId, string value) => Input(cut, testId).Change(value);

    [Fact]
    public async Task Adding_ListsTheConnectionWithoutItsKey_TestingIt_AndShowingItsModelsAndUsage()
    {
        var cut = await RenderAsync(TeamRole.Owner);
        cut.WaitForAssertion(() => Assert.NotEmpty(cut.FindAll("[data-testid=providers-empty]")));

        Type(cut, "provider-name", "Local gateway");
        Type(cut, "provider-base-url", _openAi.BaseUrl);
        Type(cut, "provider-api-key", FakeOpenAiServer.Key);
        await cut.Find("[data-testid=provider-add]").ClickAsync(new());

        cut.WaitForAssertion(() => Assert.Contains("Local gateway", cut.Find("[data-testid=providers-table]").TextContent, StringComparison.Ordinal));
        Assert.DoesNotContain(FakeOpenAiServer.Key, cut.Markup, StringComparison.Ordinal);
        Assert.Contains($"…{FakeOpenAiServer.Key[^4..]}", cut.Markup, StringComparison.Ordinal);
        Assert.Equal("", Input(cut, "provider-api-key").GetAttribute("value") ?? "");

        await cut.Find("[data-testid=provider-test]").ClickAsync(new());
        cut.WaitForAssertion(() => Assert.Contains("connected (3 models", cut.Find("[data-testid=provider-test-result]").TextContent, StringComparison.Ordinal));

        await cut.Find("[data-testid=provider-details]").ClickAsync(new());
        cut.WaitForAssertion(() => Assert.Contains("Requests1", string.Concat(cut.Find("[data-testid=usage-figures]").TextContent.Where(c => !char.IsWhiteSpace(c))), StringComparison.Ordinal));
        await cut.Find("[data-testid=provider-models-load]").ClickAsync(new());
        cut.WaitForAssertion(() => Assert.Contains("gpt-4o-mini", cut.Find("[data-testid=provider-models]").TextContent, StringComparison.Ordinal));
    }

    [Fact]
    public async Task ABadField_IsShownOnIt_AndATakenNameIsRefused()
    {
        var cut = await RenderAsync(TeamRole.Admin);
        cut.WaitForAssertion(() => Assert.NotEmpty(cut.FindAll("[data-testid=providers-empty]")));
        Type(cut, "provider-api-key", "sk-something-1234");
        await cut.Find("[data-testid=provider-add]").ClickAsync(new());
        cut.WaitForAssertion(() => Assert.Contains("Required: a name", cut.Markup, StringComparison.Ordinal));

        Type(cut, "provider-name", "prod");
        Type(cut, "provider-api-key", "sk-something-1234");
        await cut.Find("[data-testid=provider-add]").ClickAsync(new());
        cut.WaitForAssertion(() => Assert.NotEmpty(cut.FindAll("[data-testid=providers-table]")));
        Type(cut, "provider-name", "prod");
        Type(cut, "provider-api-key", "sk-something-5678");
        await cut.Find("[data-testid=provider-add]").ClickAsync(new());
        cut.WaitForAssertion(() => Assert.Contains("already has a provider connection named 'prod'", cut.Find("[data-testid=provider-add-error]").TextContent, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(TeamRole.Viewer)]
    [InlineData(TeamRole.Reviewer)]
    public async Task ANonAdmin_SeesNoControls(TeamRole role)
    {
        var cut = await RenderAsync(role);
        Assert.NotEmpty(cut.FindAll("[data-testid=providers-not-allowed]"));
        Assert.Empty(cut.FindAll("[data-testid=provider-add]"));
        Assert.Empty(cut.FindAll("[data-testid=provider-prices]"));
    }
}
