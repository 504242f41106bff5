using Bunit;
using EvalPlatform.Core.Retention;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Tests.Infrastructure;
using EvalPlatform.Web.Components.Layout;
using EvalPlatform.Web.Components.Pages.Settings;
using EvalPlatform.Web.Jobs;
using Microsoft.Extensions.DependencyInjection;

namespace EvalPlatform.Tests.Components.Retention;

/// <summary>Settings → Team → Trace retention on the real services: Admins set days or forever, with messages on the field; Reviewers read.</summary>
public sealed class TraceRetentionSectionTests : BunitTestBase
{
    private const string Days = "input[data-testid=retention-days], [data-testid=retention-days] input";

    public TraceRetentionSectionTests()
    {
        // The job table the app registers (AddEvalJobs): the section says when the purge next runs from its schedule.
        Services.AddSingleton(new JobTable(EvalJobs.All));
    }

    private async Task<(IRenderedComponent<TestHost> Cut, TestTeam Team)> RenderAsync(TeamRole role)
    {
        var owner = await TestData.CreateTeamAsync(Services);
        var (userId, email) = role == TeamRole.Owner ? (owner.OwnerId, owner.OwnerEmail) : await TestData.CreateMemberAsync(Services, owner.Id, role);
        Services.GetRequiredService<TeamContext>().SetMember(owner.Id, userId, role);
        var team = new CurrentTeam(userId, email, new Membership(owner.Id, owner.Name, role, null), []);
        var cut = Render<TestHost>(p => p.Add(h => h.Team, team).AddChildContent<TraceRetentionSection>());
        cut.WaitForAssertion(() => Assert.NotEmpty(cut.FindAll("[data-testid=retention-next]")));
        return (cut, owner);
    }

    private int? Stored(TestTeam team)
    {
        Services.GetRequiredService<TeamContext>().SetMember(team.Id, team.OwnerId, TeamRole.Owner);
        return Services.GetRequiredService<RetentionService>().GetAsync().GetAwaiter().GetResult().KeepDays;
    }

    [Fact]
    public async Task AnAdmin_SetsDays_SeesTheNextPurge_AndClearsItBackToForever()
    {
        var (cut, team) = await RenderAsync(TeamRole.Admin);
        Assert.Equal("", cut.Find(Days).GetAttribute("value") ?? "");
        Assert.Contains("Traces are kept forever", cut.Find("[data-testid=retention-next]").TextContent, StringComparison.Ordinal);
        Assert.Contains("Keep traces for N days", cut.Markup, StringComparison.Ordinal);

        await cut.Find(Days).InputAsync(new() { Value = "30" });
        await cut.Find("[data-testid=retention-save]").ClickAsync(new());

        cut.WaitForAssertion(() => Assert.Contains("Next purge:", cut.Find("[data-testid=retention-next]").TextContent, StringComparison.Ordinal));
        Assert.Contains("02:45 UTC", cut.Find("[data-testid=retention-next]").TextContent, StringComparison.Ordinal);
        Assert.Contains("more than 30 days before it", cut.Find("[data-testid=retention-next]").TextContent, StringComparison.Ordinal);
        Assert.Contains("Traces are kept for 30 days", cut.Markup, StringComparison.Ordinal);
        Assert.Equal(30, Stored(team));

        await cut.Find(Days).InputAsync(new() { Value = "" });
        await cut.Find("[data-testid=retention-save]").ClickAsync(new());
        cut.WaitForAssertion(() => Assert.Contains("Traces are kept forever", cut.Find("[data-testid=retention-next]").TextContent, StringComparison.Ordinal));
        Assert.Null(Stored(team));
    }

    [Theory]
    [InlineData("0", "Keep traces from 1 to 3650 days")]
    [InlineData("3651", "Keep traces from 1 to 3650 days")]
    [InlineData("ten", "A whole number of days")]
    [InlineData("-5", "A whole number of days")]
    public async Task AnOutOfRangeOrNonNumber_IsExplainedOnTheField_AndNothingIsSaved(string value, string message)
    {
        var (cut, team) = await RenderAsync(TeamRole.Owner);

        await cut.Find(Days).InputAsync(new() { Value = value });
        await cut.Find("[data-testid=retention-save]").ClickAsync(new());

        cut.WaitForAssertion(() => Assert.Contains(message, cut.Markup, StringComparison.Ordinal));
        Assert.Equal("true", cut.Find(Days).GetAttribute("aria-invalid"));
        Assert.Null(Stored(team));
    }

    [Fact]
    public async Task AReviewer_ReadsTheSetting_WithoutASaveButton()
    {
        var owner = await TestData.CreateTeamAsync(Services);
        Services.GetRequiredService<TeamContext>().SetMember(owner.Id, owner.OwnerId, TeamRole.Owner);
        await Services.GetRequiredService<RetentionService>().SetAsync(90);
        var (reviewer, email) = await TestData.CreateMemberAsync(Services, owner.Id, TeamRole.Reviewer);
        Services.GetRequiredService<TeamContext>().SetMember(owner.Id, reviewer, TeamRole.Reviewer);
        var cut = Render<TestHost>(p => p.Add(h => h.Team, new CurrentTeam(reviewer, email, new Membership(owner.Id, owner.Name, TeamRole.Reviewer, null), []))
            .AddChildContent<TraceRetentionSection>());

        cut.WaitForAssertion(() => Assert.Equal("90", cut.Find(Days).GetAttribute("value")));
        Assert.NotEmpty(cut.FindAll("[data-testid=retention-read-only]"));
        Assert.Empty(cut.FindAll("[data-testid=retention-save]"));
        Assert.Equal("readonly", cut.Find(Days).GetAttribute("readonly") is null ? null : "readonly");
    }
}
