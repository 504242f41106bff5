using Bunit;
using EvalPlatform.Core.Common;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Tests.Infrastructure;
using EvalPlatform.Web.Components.Layout;
using EvalPlatform.Web.Components.Pages.Settings;
using Microsoft.Extensions.DependencyInjection;

namespace EvalPlatform.Tests.Components.Ingestion;

public sealed class IngestionOriginsSectionTests : BunitTestBase
{
    private const string Input = "input[data-testid=origin-input], [data-testid=origin-input] input";

    public IngestionOriginsSectionTests() =>
        Services.Configure<IngestionCorsOptions>(o => o.AllowedOrigins = ["https://configured.example"]);

    private async Task<(IRenderedComponent<TestHost> Cut, TestTeam Team)> RenderAsync(TeamRole role, params string[] origins)
    {
        var owner = await TestData.CreateTeamAsync(Services);
        if (origins.Length > 0)
        {
            await using var scope = Services.CreateAsyncScope();
            scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(owner.Id, owner.OwnerId, TeamRole.Owner);
            await scope.ServiceProvider.GetRequiredService<IngestionOriginService>().ReplaceAsync(origins);
        }

        var (userId, email) = role == TeamRole.Owner ? (owner.OwnerId, owner.OwnerEmail) : await TestData.CreateMemberAsync(Services, owner.Id, role);
        Services.GetRequiredService<TeamContext>().SetMember(owner.Id, userId, role);
        var team = new CurrentTeam(userId, email, new Membership(owner.Id, owner.Name, role, null), []);
        return (Render<TestHost>(p => p.Add(h => h.Team, team).AddChildContent<IngestionOriginsSection>()), owner);
    }

    [Fact]
    public async Task AnOwner_AddsAnOrigin_WhichIsListedInNormalForm()
    {
        var (cut, _) = await RenderAsync(TeamRole.Owner);
        cut.WaitForAssertion(() => Assert.NotEmpty(cut.FindAll("[data-testid=origins-empty]")));

        await cut.Find(Input).InputAsync(new() { Value = "  HTTPS://App.Example.com:443/ " });
        await cut.Find("[data-testid=origin-add]").ClickAsync(new());

        cut.WaitForAssertion(() => Assert.Equal(["https://app.example.com"], cut.FindAll("[data-testid=origin-value]").Select(e => e.TextContent).ToArray()));
        Assert.Empty(cut.FindAll("[data-testid=origins-empty]"));
        Assert.Equal("", cut.Find(Input).GetAttribute("value") ?? "");
    }

    [Theory]
    [InlineData("https://app.example.com/chat", "An origin has no path: use https://app.example.com")]
    [InlineData("*", "Wildcards are not allowed here")]
    [InlineData("app.example.com", "is not an origin")]
    public async Task ABadOrigin_IsExplainedOnTheField_AndNothingIsAdded(string text, string message)
    {
        var (cut, _) = await RenderAsync(TeamRole.Owner);
        cut.WaitForAssertion(() => Assert.NotEmpty(cut.FindAll("[data-testid=origins-empty]")));

        await cut.Find(Input).InputAsync(new() { Value = text });
        await cut.Find("[data-testid=origin-add]").ClickAsync(new());

        cut.WaitForAssertion(() => Assert.Contains(message, cut.Markup, StringComparison.Ordinal));
        Assert.NotEmpty(cut.FindAll("[data-testid=origins-empty]"));
        Assert.Empty(cut.FindAll("[data-testid=origin-value]"));
    }

    [Fact]
    public async Task AnOriginAlreadyListed_IsExplainedOnTheField()
    {
        var (cut, _) = await RenderAsync(TeamRole.Owner, "https://app.example.com");
        cut.WaitForAssertion(() => Assert.Single(cut.FindAll("[data-testid=origin-value]")));

        await cut.Find(Input).InputAsync(new() { Value = "https://APP.example.com" });
        await cut.Find("[data-testid=origin-add]").ClickAsync(new());

        cut.WaitForAssertion(() => Assert.Contains("https://app.example.com is already allowed.", cut.Markup, StringComparison.Ordinal));
        Assert.Single(cut.FindAll("[data-testid=origin-value]"));
    }

    [Fact]
    public async Task Removing_AsksFirst_ThenTheOriginIsGone()
    {
        var (cut, team) = await RenderAsync(TeamRole.Admin, "https://a.example", "http://localhost:3000");
        cut.WaitForAssertion(() => Assert.Equal(2, cut.FindAll("[data-testid=origin-value]").Count));

        // Not awaited: the handler awaits the message box, whose result comes only when it closes.
        var removing = cut.FindAll("[data-testid=origin-remove]")[0].ClickAsync(new());
        cut.WaitForAssertion(() => Assert.Contains("Remove https://a.example?", cut.Markup, StringComparison.Ordinal));
        await cut.FindAll(".mud-dialog button").Single(b => b.TextContent.Trim() == "Remove").ClickAsync(new());
        await removing.WaitAsync(TimeSpan.FromSeconds(10));

        cut.WaitForAssertion(() => Assert.Equal(["http://localhost:3000"], cut.FindAll("[data-testid=origin-value]").Select(e => e.TextContent).ToArray()));
        await using var scope = Services.CreateAsyncScope();
        scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(team.Id, team.OwnerId, TeamRole.Owner);
        Assert.Equal(["http://localhost:3000"], (await scope.ServiceProvider.GetRequiredService<IngestionOriginService>().GetAsync()).Origins);
    }

    [Theory]
    [InlineData(TeamRole.Viewer)]
    [InlineData(TeamRole.Reviewer)]
    public async Task ANonAdmin_ReadsTheList_ButHasNoControls_AndTheServiceRefusesThem(TeamRole role)
    {
        var (cut, _) = await RenderAsync(role, "https://a.example");

        cut.WaitForAssertion(() => Assert.Equal(["https://a.example"], cut.FindAll("[data-testid=origin-value]").Select(e => e.TextContent).ToArray()));
        Assert.NotEmpty(cut.FindAll("[data-testid=origins-read-only]"));
        Assert.Empty(cut.FindAll("[data-testid=origin-add]"));
        Assert.Empty(cut.FindAll("[data-testid=origin-remove]"));
        await Assert.ThrowsAsync<PermissionDeniedException>(() => Services.GetRequiredService<IngestionOriginService>().AddAsync("https://b.example"));
    }

    [Fact]
    public async Task TheConfigurationsOrigins_AreShown_AsAllowedForEveryTeam()
    {
        var (cut, _) = await RenderAsync(TeamRole.Viewer);

        cut.WaitForAssertion(() => Assert.Contains("https://configured.example", cut.Find("[data-testid=origins-configured]").TextContent, StringComparison.Ordinal));
    }
}
