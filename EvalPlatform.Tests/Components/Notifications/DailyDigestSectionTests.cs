using Bunit;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Digests;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Core.Traces;
using EvalPlatform.Tests.Infrastructure;
using EvalPlatform.Web.Components.Layout;
using EvalPlatform.Web.Components.Pages.Settings;
using Microsoft.Extensions.DependencyInjection;

namespace EvalPlatform.Tests.Components.Notifications;

/// <summary>Settings → Notifications → Daily digest on the real services: Admins edit and preview, with messages on the field; Reviewers read.</summary>
public sealed class DailyDigestSectionTests : BunitTestBase
{
    private const string Zone = "input[data-testid=digest-zone], [data-testid=digest-zone] input";
    private const string Time = "input[data-testid=digest-time], [data-testid=digest-time] input";

    private async Task<(IRenderedComponent<TestHost> Cut, TestTeam Team)> RenderAsync(TeamRole role)
    {
        var owner = await TestData.CreateTeamAsync(Services);
        var (userId, email) = role == TeamRole.Owner ? (owner.OwnerId, owner.OwnerEmail) : await TestData.CreateMemberAsync(Services, owner.Id, role);
        Services.GetRequiredService<TeamContext>().SetMember(owner.Id, userId, role);
        var team = new CurrentTeam(userId, email, new Membership(owner.Id, owner.Name, role, null), []);
        var cut = Render<TestHost>(p => p.Add(h => h.Team, team).AddChildContent<DailyDigestSection>());
        cut.WaitForAssertion(() => Assert.NotEmpty(cut.FindAll("[data-testid=digest-next]")));
        return (cut, owner);
    }

    private DigestSettings Stored(TestTeam team)
    {
        Services.GetRequiredService<TeamContext>().SetMember(team.Id, team.OwnerId, TeamRole.Owner);
        return Services.GetRequiredService<DigestService>().GetAsync().GetAwaiter().GetResult();
    }

    [Fact]
    public async Task AnAdmin_TurnsTheDigestOn_WithAZoneAndATime_AndSeesWhenTheNextGoesOut()
    {
        var (cut, team) = await RenderAsync(TeamRole.Admin);
        Assert.Equal("UTC", cut.Find(Zone).GetAttribute("value"));
        Assert.Equal("09:00", cut.Find(Time).GetAttribute("value"));
        Assert.Equal("time", cut.Find(Time).GetAttribute("type"));
        Assert.Contains("The digest is off.", cut.Find("[data-testid=digest-next]").TextContent, StringComparison.Ordinal);
        // Every control has a label a screen reader announces.
        Assert.Contains("Time zone", cut.Markup, StringComparison.Ordinal);
        Assert.Contains("Send a daily digest", cut.Markup, StringComparison.Ordinal);

        await cut.Find("input[data-testid=digest-enabled], [data-testid=digest-enabled] input").ChangeAsync(new() { Value = true });
        await cut.Find(Zone).InputAsync(new() { Value = "America/New_York" });
        await cut.Find(Time).InputAsync(new() { Value = "17:30" });
        await cut.Find("[data-testid=digest-save]").ClickAsync(new());

        cut.WaitForAssertion(() => Assert.Contains("Next digest:", cut.Find("[data-testid=digest-next]").TextContent, StringComparison.Ordinal));
        Assert.Contains("17:30 (America/New_York)", cut.Find("[data-testid=digest-next]").TextContent, StringComparison.Ordinal);
        var stored = Stored(team);
        Assert.Equal(("America/New_York", true, new TimeOnly(17, 30)), (stored.TimeZone, stored.Enabled, stored.Time));
    }

    [Theory]
    [InlineData("Mars/Olympus_Mons", "Unknown time zone 'Mars/Olympus_Mons'")]
    [InlineData("", "Required: an IANA time zone")]
    public async Task AnUnknownOrMissingZone_IsExplainedOnTheField_AndNothingIsSaved(string zone, string message)
    {
        var (cut, team) = await RenderAsync(TeamRole.Owner);

        await cut.Find(Zone).InputAsync(new() { Value = zone });
        await cut.Find("[data-testid=digest-save]").ClickAsync(new());

        cut.WaitForAssertion(() => Assert.Contains(message, cut.Markup, StringComparison.Ordinal));
        Assert.Equal("true", cut.Find(Zone).GetAttribute("aria-invalid"));
        Assert.NotEqual("true", cut.Find(Time).GetAttribute("aria-invalid"));
        Assert.Equal("UTC", Stored(team).TimeZone);
    }

    [Fact]
    public async Task ABadTime_IsExplainedOnTheField()
    {
        var (cut, team) = await RenderAsync(TeamRole.Owner);

        await cut.Find(Time).InputAsync(new() { Value = "25:99" });
        await cut.Find("[data-testid=digest-save]").ClickAsync(new());

        cut.WaitForAssertion(() => Assert.Contains("A local time of day as HH:mm", cut.Markup, StringComparison.Ordinal));
        Assert.Equal("true", cut.Find(Time).GetAttribute("aria-invalid"));
        Assert.Equal(new TimeOnly(9, 0), Stored(team).Time);
    }

    [Fact]
    public async Task Preview_SaysNothingGoesOut_ForATeamWithoutTraces_AndShowsYesterdaysFiguresOnceThereAreSome()
    {
        var (cut, team) = await RenderAsync(TeamRole.Owner);
        await cut.Find("[data-testid=digest-preview]").ClickAsync(new());
        cut.WaitForAssertion(() => Assert.NotEmpty(cut.FindAll("[data-testid=digest-preview-none]")));

        var yesterday = DateOnly.FromDateTime(TimeProvider.System.GetUtcNow().UtcDateTime).AddDays(-1);
        var noon = new DateTimeOffset(yesterday.ToDateTime(new TimeOnly(12, 0)), TimeSpan.Zero);
        await using (var db = await Services.GetRequiredService<IEvalDbContextFactory>().CreateAsync())
        {
            foreach (var (at, error) in new[] { (noon, (string?)null), (noon.AddMinutes(1), "boom") })
            {
                var id = Guid.NewGuid();
                db.Traces.Add(new Trace { Id = id, TeamId = team.Id, StartedAt = at, CreatedAt = at, UpdatedAt = at, SortKey = Trace.MakeSortKey(at, id), Error = error });
            }

            await db.SaveChangesAsync();
        }

        await cut.Find("[data-testid=digest-preview]").ClickAsync(new());

        cut.WaitForAssertion(() => Assert.NotEmpty(cut.FindAll("[data-testid=digest-preview-figures]")));
        Assert.Equal($"Daily digest for {DigestNotification.Day(yesterday)}", cut.Find("[data-testid=digest-preview-title]").TextContent);
        var figures = cut.Find("[data-testid=digest-preview-figures]").TextContent;
        Assert.Contains("2", figures, StringComparison.Ordinal);
        Assert.Contains("50 %", figures, StringComparison.Ordinal);
        Assert.Contains("No alerts fired.", cut.Find("[data-testid=digest-preview-alerts]").TextContent, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EveryMember_IsOfferedTheDigestInTheirPreferences_OnByDefault()
    {
        var owner = await TestData.CreateTeamAsync(Services);
        var (userId, email) = await TestData.CreateMemberAsync(Services, owner.Id, TeamRole.Viewer);
        Services.GetRequiredService<TeamContext>().SetMember(owner.Id, userId, TeamRole.Viewer);
        var team = new CurrentTeam(userId, email, new Membership(owner.Id, owner.Name, TeamRole.Viewer, null), []);
        var cut = Render<TestHost>(p => p.Add(h => h.Team, team).AddChildContent<Web.Components.Pages.Notifications.NotificationPreferencesSection>());

        cut.WaitForAssertion(() => Assert.NotEmpty(cut.FindAll("[data-testid='pref-digest.daily'], [data-testid='pref-digest.daily'] input")));
        var box = cut.Find("input[data-testid='pref-digest.daily'], [data-testid='pref-digest.daily'] input");
        Assert.True(box.HasAttribute("checked") || box.GetAttribute("aria-checked") == "true");
        Assert.Contains("Daily digest", cut.Markup, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AReviewer_SeesTheSettingsReadOnly_WithoutSaveOrPreview()
    {
        var (cut, _) = await RenderAsync(TeamRole.Reviewer);

        Assert.NotEmpty(cut.FindAll("[data-testid=digest-read-only]"));
        Assert.Empty(cut.FindAll("[data-testid=digest-save]"));
        Assert.Empty(cut.FindAll("[data-testid=digest-preview]"));
        Assert.NotNull(cut.Find(Zone).GetAttribute("readonly"));
        await Assert.ThrowsAsync<Core.Common.PermissionDeniedException>(() =>
            Services.GetRequiredService<DigestService>().UpdateAsync(new DigestSettingsInput("Europe/Berlin", true, "08:00")));
        await Assert.ThrowsAsync<Core.Common.PermissionDeniedException>(() => Services.GetRequiredService<DigestService>().PreviewAsync());
    }
}
