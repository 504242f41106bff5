using System.Text.Json.Nodes;
using Bunit;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Notifications;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Tests.Infrastructure;
using EvalPlatform.Web.Components.Layout;
using EvalPlatform.Web.Components.Pages.Notifications;
using EvalPlatform.Web.Components.Pages.Settings;
using EvalPlatform.Web.Notifications;
using Microsoft.Extensions.DependencyInjection;

namespace EvalPlatform.Tests.Components.Notifications;

/// <summary>Settings → Notifications (Admins edit, everyone sees), the bell (live), and the notifications page, on the real services.</summary>
public sealed class NotificationComponentsTests : BunitTestBase
{
    public NotificationComponentsTests()
    {
        // The after-commit path of the app: save → interceptor → observer → live bus → the bell.
        Services.AddSingleton<DeliveryNudge>();
        Services.AddSingleton<INotificationCommitObserver, NotificationCommitObserver>();
    }

    private async Task<(CurrentTeam Team, TestTeam Owner)> AsAsync(TeamRole role)
    {
        var owner = await TestData.CreateTeamAsync(Services);
        var (userId, email) = role == TeamRole.Owner ? (owner.OwnerId, owner.OwnerEmail) : await TestData.CreateMemberAsync(Services, owner.Id, role);
        Services.GetRequiredService<TeamContext>().SetMember(owner.Id, owner.OwnerId, TeamRole.Owner);
        await Services.GetRequiredService<NotificationChannelService>().CreateAsync(new ChannelInput(
            "#quality", "slack_bot", null, "xoxb-abc-1234", "#quality", null, [NotificationEventTypes.TraceReviewed, NotificationEventTypes.AlertFiring], RejectedOnly: true));
        Services.GetRequiredService<TeamContext>().SetMember(owner.Id, userId, role);
        return (new CurrentTeam(userId, email, new Membership(owner.Id, owner.Name, role, null), []), owner);
    }

    [Fact]
    public async Task SettingsPage_ForAnOwner_ListsChannelsWithControls_AndTheDeliveryLog()
    {
        var (team, _) = await AsAsync(TeamRole.Owner);
        var cut = Render<TestHost>(p => p.Add(h => h.Team, team).AddChildContent<NotificationsSettingsPage>());

        cut.WaitForAssertion(() => Assert.Equal("#quality", cut.Find("[data-testid=channel-row-name]").TextContent));
        Assert.Contains("Slack bot · #quality", cut.Markup, StringComparison.Ordinal);
        Assert.Contains("Trace reviewed (rejections)", cut.Markup, StringComparison.Ordinal);
        Assert.DoesNotContain("xoxb-abc-1234", cut.Markup, StringComparison.Ordinal);
        Assert.NotEmpty(cut.FindAll("[data-testid=add-channel]"));
        Assert.NotEmpty(cut.FindAll("[data-testid=edit-channel]"));
        Assert.NotEmpty(cut.FindAll("[data-testid=test-channel]"));

        await cut.Find("[data-testid=show-deliveries]").ClickAsync(new());
        cut.WaitForAssertion(() => Assert.NotEmpty(cut.FindAll("[data-testid=deliveries-empty]")));
    }

    [Fact]
    public async Task SettingsPage_ForAViewer_ShowsChannelsReadOnly_AndTheServiceRefusesChanges()
    {
        var (team, _) = await AsAsync(TeamRole.Viewer);
        var cut = Render<TestHost>(p => p.Add(h => h.Team, team).AddChildContent<NotificationsSettingsPage>());

        cut.WaitForAssertion(() => Assert.NotEmpty(cut.FindAll("[data-testid=channel-row-name]")));
        Assert.NotEmpty(cut.FindAll("[data-testid=channels-read-only]"));
        Assert.Empty(cut.FindAll("[data-testid=add-channel]"));
        Assert.Empty(cut.FindAll("[data-testid=edit-channel]"));
        Assert.Empty(cut.FindAll("[data-testid=delete-channel]"));
        await Assert.ThrowsAsync<Core.Common.PermissionDeniedException>(() => Services.GetRequiredService<NotificationChannelService>().CreateAsync(
            new ChannelInput("x", "webhook", "https://example.com/x", null, null, null, [NotificationEventTypes.AlertFiring])));
    }

    [Fact]
    public async Task Bell_CountsUnread_AndUpdatesLiveWhenANotificationCommits()
    {
        var (team, owner) = await AsAsync(TeamRole.Owner);
        var cut = Render<TestHost>(p => p.Add(h => h.Team, team).AddChildContent<NotificationBell>());
        cut.WaitForAssertion(() => Assert.Equal("0", cut.Find("[data-testid=bell]").GetAttribute("data-unread")));
        Assert.Equal("Notifications", cut.Find("[data-testid=bell]").GetAttribute("aria-label"));

        // An alert (as alerts16's job raises it) committed through the outbox: the member's bell learns it from the live bus.
        await using (var scope = Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<IEvalDbContext>();
            db.AllowCrossTeamWrites(); // enqueued outside any team, as a job's writer would
            await scope.ServiceProvider.GetRequiredService<INotificationOutbox>().EnqueueAsync(new NotificationEvent(
                owner.Id, NotificationEventTypes.AlertFiring, "Error rate above 20 %", "23 % over the last 15 minutes (threshold 20 %).", "/analytics",
                new JsonObject { ["value"] = 0.23, ["threshold"] = 0.2 }, NotificationSeverity.Critical), CancellationToken.None);
            await db.SaveChangesAsync();
        }

        cut.WaitForAssertion(() => Assert.Equal("1", cut.Find("[data-testid=bell]").GetAttribute("data-unread")));
        Assert.Equal("Notifications, 1 unread", cut.Find("[data-testid=bell]").GetAttribute("aria-label"));

        await Services.GetRequiredService<InAppNotificationService>().MarkAllReadAsync();
        cut.WaitForAssertion(() => Assert.Equal("0", cut.Find("[data-testid=bell]").GetAttribute("data-unread")));
    }

    [Fact]
    public async Task NotificationsPage_ShowsTheEmptyState_ThenTheList_AndMarksRead()
    {
        var (team, owner) = await AsAsync(TeamRole.Owner);
        var cut = Render<TestHost>(p => p.Add(h => h.Team, team).AddChildContent<NotificationsPage>());
        cut.WaitForAssertion(() => Assert.NotEmpty(cut.FindAll("[data-testid=notifications-empty]")));

        await using (var scope = Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<IEvalDbContext>();
            db.AllowCrossTeamWrites(); // enqueued outside any team, as a job's writer would
            var outbox = scope.ServiceProvider.GetRequiredService<INotificationOutbox>();
            for (var i = 0; i < InAppNotificationService.PageSize + 2; i++)
            {
                await outbox.EnqueueAsync(new NotificationEvent(owner.Id, NotificationEventTypes.QueueCompleted, $"Queue {i} is complete", "All done.", null, []), CancellationToken.None);
            }

            await db.SaveChangesAsync();
        }

        cut.WaitForAssertion(() => Assert.Equal(InAppNotificationService.PageSize, cut.FindAll("[data-testid=notification]").Count));
        await cut.Find("[data-testid=more-notifications]").ClickAsync(new());
        cut.WaitForAssertion(() => Assert.Equal(InAppNotificationService.PageSize + 2, cut.FindAll("[data-testid=notification]").Count));

        await cut.Find("[data-testid=mark-read]").ClickAsync(new());
        cut.WaitForAssertion(() => Assert.Single(cut.FindAll("[data-testid=notification][data-read=true]")));
        await cut.Find("[data-testid=mark-all-read]").ClickAsync(new());
        cut.WaitForAssertion(() => Assert.Empty(cut.FindAll("[data-testid=notification][data-read=false]")));
    }
}
