using Bunit;
using EvalPlatform.Core.Alerts;
using EvalPlatform.Core.Analytics;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Tests.Infrastructure;
using EvalPlatform.Web.Components.Layout;
using EvalPlatform.Web.Components.Pages.Alerts;
using Microsoft.AspNetCore.Components;
using Microsoft.Extensions.DependencyInjection;

namespace EvalPlatform.Tests.Components.Alerts;

/// <summary>Settings → Alerts, the rule form with its preview, and the rule's page, against the real services on SQLite.</summary>
public sealed class AlertPagesTests : BunitTestBase
{
    private readonly NotificationRecorder _notifications = new();

    public AlertPagesTests()
    {
        RecordingOutbox.Register(Services, _notifications);
    }

    private async Task<(TestTeam Team, CurrentTeam Current)> OwnerAsync()
    {
        var owner = await TestData.CreateTeamAsync(Services);
        Services.GetRequiredService<TeamContext>().SetMember(owner.Id, owner.OwnerId, TeamRole.Owner);
        return (owner, new CurrentTeam(owner.OwnerId, owner.OwnerEmail, new Membership(owner.Id, owner.Name, TeamRole.Owner, null), []));
    }

    private Task<AlertRule> CreateRuleAsync(string name = "Traffic") => Services.GetRequiredService<AlertService>().CreateAsync(
        new AlertRuleDefinition(name, Metric.Traces, null, new AlertFilters(Model: "gpt-4o"), 5, AlertConditionOp.Below, 1000));

    [Fact]
    public async Task TheList_ShowsEachRuleWithItsStateBadge_AndAViewerGetsNoNewButton()
    {
        var (owner, current) = await OwnerAsync();
        var empty = Render<TestHost>(p => p.Add(h => h.Team, current).AddChildContent<AlertsPage>());
        empty.WaitForAssertion(() => Assert.NotEmpty(empty.FindAll("[data-testid=rules-empty]")));
        Assert.NotEmpty(empty.FindAll("[data-testid=new-rule]"));

        var rule = await CreateRuleAsync();
        await Services.GetRequiredService<AlertRunner>().EvaluateAllAsync();
        await DisposeComponentsAsync();

        var cut = Render<TestHost>(p => p.Add(h => h.Team, current).AddChildContent<AlertsPage>());
        cut.WaitForAssertion(() => Assert.NotEmpty(cut.FindAll("[data-testid=rules-table]")));
        Assert.Equal("Traffic", cut.Find("[data-testid=rule-link]").TextContent);
        Assert.Equal($"/settings/alerts/{rule.Id}", cut.Find("[data-testid=rule-link]").GetAttribute("href"));
        Assert.Equal("firing", cut.Find("[data-testid=alert-status]").GetAttribute("data-status"));
        Assert.Contains("Traces below 1,000 over 5 min, model gpt-4o", cut.Markup, StringComparison.Ordinal);

        var (viewerId, email) = await TestData.CreateMemberAsync(Services, owner.Id, TeamRole.Viewer);
        Services.GetRequiredService<TeamContext>().SetMember(owner.Id, viewerId, TeamRole.Viewer);
        await DisposeComponentsAsync();
        var viewer = Render<TestHost>(p => p.Add(h => h.Team, new CurrentTeam(viewerId, email, new Membership(owner.Id, owner.Name, TeamRole.Viewer, null), []))
            .AddChildContent<AlertsPage>());
        viewer.WaitForAssertion(() => Assert.NotEmpty(viewer.FindAll("[data-testid=rules-table]")));
        Assert.Empty(viewer.FindAll("[data-testid=new-rule]"));
    }

    private static AngleSharp.Dom.IElement Input(IRenderedComponent<TestHost> cut, string id) => cut.FindAll($"input[data-testid={id}], [data-testid={id}] input")[0];

    [Fact]
    public async Task TheForm_CreatesARule_AndNamesTheFieldItRefuses()
    {
        var (_, current) = await OwnerAsync();
        var cut = Render<TestHost>(p => p.Add(h => h.Team, current).AddChildContent<AlertRuleEditPage>());
        cut.WaitForAssertion(() => Assert.NotEmpty(cut.FindAll("[data-testid=save-rule]")));

        await cut.Find("[data-testid=save-rule]").ClickAsync(new());
        cut.WaitForAssertion(() => Assert.Contains("'name' is required.", cut.Markup, StringComparison.Ordinal));

        await CreateRuleAsync("Errors per user");
        Input(cut, "rule-name").Change("errors per user");
        await cut.Find("[data-testid=save-rule]").ClickAsync(new());
        cut.WaitForAssertion(() => Assert.Contains("Another alert rule of this team has that name.", cut.Markup, StringComparison.Ordinal));

        Input(cut, "rule-name").Change("Errors per user, production");
        Input(cut, "rule-window").Change("15");
        await cut.Find("[data-testid=save-rule]").ClickAsync(new());

        var nav = Services.GetRequiredService<NavigationManager>();
        cut.WaitForAssertion(() => Assert.Matches("/settings/alerts/[0-9a-f-]{36}$", nav.Uri));
        var rule = (await Services.GetRequiredService<AlertService>().ListAsync()).Single(r => r.Rule.Name.EndsWith("production", StringComparison.Ordinal)).Rule;
        Assert.Equal(("Errors per user, production", Metric.ErrorRate, AlertConditionOp.Above, 0.2, 15), (rule.Name, rule.Metric, rule.ConditionOp, rule.ConditionValue, rule.WindowMinutes));
    }

    [Fact]
    public async Task ThePreview_ReplaysTheWeek_AndSaysHowOftenItWouldHaveFired()
    {
        var (_, current) = await OwnerAsync();
        var cut = Render<TestHost>(p => p.Add(h => h.Team, current).AddChildContent<AlertRuleEditPage>());
        cut.WaitForAssertion(() => Assert.NotEmpty(cut.FindAll("[data-testid=preview-rule]")));

        await cut.Find("[data-testid=preview-rule]").ClickAsync(new());

        cut.WaitForAssertion(() => Assert.Equal("It would not have fired.", cut.Find("[data-testid=preview-count]").TextContent.Trim()));
        Assert.InRange(cut.FindAll(".alert-strip > .alert-strip-hour").Count, 168, 169);
    }

    [Fact]
    public async Task TheRulePage_ShowsTheAlertHistoryAndEvaluations_AndAcknowledges()
    {
        var (team, current) = await OwnerAsync();
        var rule = await CreateRuleAsync();
        await Services.GetRequiredService<AlertRunner>().EvaluateAllAsync();
        Assert.Equal("Traffic", Assert.Single(_notifications.Of(team.Id)).Title);

        var cut = Render<TestHost>(p => p.Add(h => h.Team, current).AddChildContent<AlertRulePage>(c => c.Add(x => x.Id, rule.Id)));

        cut.WaitForAssertion(() => Assert.NotEmpty(cut.FindAll("[data-testid=alert-states]")));
        Assert.Equal("Traffic", cut.Find("[data-testid=rule-title]").TextContent);
        Assert.Contains("Traces is 0 (below 1,000) over the last 5 min, 0 traces.", cut.Find("[data-testid=alert-history]").TextContent, StringComparison.Ordinal);
        Assert.Equal("breaching → Firing", cut.Find("[data-testid=evaluation-decision]").TextContent.Trim());

        await cut.Find("[data-testid=acknowledge]").ClickAsync(new());

        cut.WaitForAssertion(() => Assert.Contains($"acknowledged by {team.OwnerEmail}", cut.Find("[data-testid=acknowledged]").TextContent, StringComparison.Ordinal));
        Assert.Empty(cut.FindAll("[data-testid=acknowledge]"));
        Assert.Contains($"Acknowledged by {team.OwnerEmail}.", cut.Find("[data-testid=alert-history]").TextContent, StringComparison.Ordinal);
    }

    [Fact]
    public void TheDraft_TypesRatesInPercent_AndKeepsItsChannels()
    {
        var channel = Guid.NewGuid();
        var draft = new AlertRuleDraft { Name = "x", Metric = Metric.ErrorRate, Op = AlertConditionOp.Above, Value = 20, ChannelIds = [channel, channel] };

        var d = draft.ToDefinition();

        Assert.Equal((0.2, channel), (d.Value, Assert.Single(d.ChannelIds!)));
        var rule = new AlertRule { Name = "x", Metric = Metric.ErrorRate, ConditionOp = AlertConditionOp.Above, ConditionValue = 0.35, ChannelIds = [channel] };
        Assert.Equal(35, AlertRuleDraft.From(rule).Value, 9);
        Assert.Equal([channel], AlertRuleDraft.From(rule).ChannelIds);
    }

    [Fact]
    public async Task TheForm_WithoutChannels_LinksToSettingsNotifications()
    {
        var (_, current) = await OwnerAsync();
        var cut = Render<TestHost>(p => p.Add(h => h.Team, current).AddChildContent<AlertRuleEditPage>());

        cut.WaitForAssertion(() => Assert.NotEmpty(cut.FindAll("[data-testid=rule-channels-empty]")));
        Assert.Equal("/settings/notifications", cut.Find("[data-testid=rule-channels-add]").GetAttribute("href"));
        Assert.Empty(cut.FindAll("[data-testid=rule-channel]"));
    }

    [Fact]
    public async Task TheForm_ListsChannelsByNameAndType_AndSavesTheTickedOnes()
    {
        var (_, current) = await OwnerAsync();
        var channels = Services.GetRequiredService<Core.Notifications.NotificationChannelService>();
        var slack = (await channels.CreateAsync(new Core.Notifications.ChannelInput(
            "#alerts", "slack_bot", null, "xoxb-abc-1234", "#alerts", null, [Core.Notifications.NotificationEventTypes.AlertFiring]))).Channel;
        _notifications.Channels[current.Active.TeamId] = [slack.Id];
        await channels.CreateAsync(new Core.Notifications.ChannelInput(
            "On-call", "slack_bot", null, "xoxb-def-5678", "#oncall", null, [Core.Notifications.NotificationEventTypes.AlertFiring]));
        var cut = Render<TestHost>(p => p.Add(h => h.Team, current).AddChildContent<AlertRuleEditPage>());

        cut.WaitForAssertion(() => Assert.Equal(2, cut.FindAll("[data-testid=rule-channel]").Count));
        var labels = cut.FindAll("[data-testid=rule-channel]").Select(c => c.TextContent.Trim()).ToList();
        Assert.Equal(["#alerts (Slack bot)", "On-call (Slack bot)"], labels);
        Assert.DoesNotContain(slack.Id.ToString(), string.Join(" ", labels), StringComparison.Ordinal);
        Assert.Empty(cut.FindAll("[data-testid=rule-channels-empty]"));

        Input(cut, "rule-name").Change("To Slack");
        cut.Find($"[data-testid=rule-channel][data-channel-id='{slack.Id}'] input").Change(true);
        await cut.Find("[data-testid=save-rule]").ClickAsync(new());

        var nav = Services.GetRequiredService<NavigationManager>();
        cut.WaitForAssertion(() => Assert.Matches("/settings/alerts/[0-9a-f-]{36}$", nav.Uri));
        var rule = (await Services.GetRequiredService<AlertService>().ListAsync()).Single().Rule;
        Assert.Equal([slack.Id], rule.ChannelIds);
    }
}
