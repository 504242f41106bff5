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
        Services.AddHybridCache(); // the budgets' cache (the app adds it with Redis)
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

    [Fact]
    public async Task Budgets_ShowWhatTheirWindowSpent_TheMostSpendingUser_AndABadLimitIsNamed()
    {
        var cut = await RenderAsync(TeamRole.Owner);
        cut.WaitForAssertion(() => Assert.NotEmpty(cut.FindAll("[data-testid=budgets-empty]")));

        // A budget per end user, and three calls this minute: two of u1, one of u2.
        var budgets = Services.GetRequiredService<EvalPlatform.Core.Providers.Proxy.ProviderBudgets>();
        await budgets.ReplaceAsync([new(EvalPlatform.Core.Providers.Proxy.BudgetScope.EndUser, EvalPlatform.Core.Providers.Proxy.BudgetMetric.Requests, 5, EvalPlatform.Core.Providers.Proxy.BudgetWindow.Day)]);
        var usage = Services.GetRequiredService<EvalPlatform.Core.Providers.IProviderUsage>();
        var now = Services.GetRequiredService<TimeProvider>().GetUtcNow();
        foreach (var user in new[] { "u1", "u2", "u1" })
        {
            await usage.RecordAsync(new EvalPlatform.Core.Providers.ProviderCall
            {
                Id = Guid.NewGuid(), ConnectionId = Guid.NewGuid(), Source = EvalPlatform.Core.Providers.ProviderCallSource.Proxy, At = now,
                Model = "gpt-4o-mini", LatencyMs = 10, EndUser = user,
            }, CancellationToken.None);
        }

        await cut.Find("[data-testid=budgets-refresh]").ClickAsync(new());
        cut.WaitForAssertion(() => Assert.Contains("2 of 5 requests spent (most: u1)", cut.Find("[data-testid=budget-spent]").TextContent, StringComparison.Ordinal));

        // A second budget without a limit is refused, naming it; the first stays.
        await cut.Find("[data-testid=budget-add]").ClickAsync(new());
        await cut.Find("[data-testid=budgets-save]").ClickAsync(new());
        cut.WaitForAssertion(() => Assert.Contains("budgets[1].limit: Must be 0 or more.", cut.Find("[data-testid=budgets-error]").TextContent, StringComparison.Ordinal));
        Assert.Single(await budgets.ListAsync());

        // Removing it and saving keeps the one budget and writes the change to the audit log.
        await cut.FindAll("[data-testid=budget-remove]")[1].ClickAsync(new());
        await cut.Find("[data-testid=budgets-save]").ClickAsync(new());
        cut.WaitForAssertion(() => Assert.Empty(cut.FindAll("[data-testid=budgets-error]")));
        var log = await Services.GetRequiredService<EvalPlatform.Core.Audit.AuditLog>().ListAsync(new EvalPlatform.Core.Audit.AuditFilter());
        Assert.Contains(log.Items, e => e.Action == EvalPlatform.Core.Audit.AuditActions.ProviderBudgetsChanged && e.Details!.Contains("5 requests per day for each end user", StringComparison.Ordinal));
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
        Assert.Empty(cut.FindAll("[data-testid=provider-budgets]"));
    }
}
