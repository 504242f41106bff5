using System.Net;
using EvalPlatform.Core.Notifications;
using EvalPlatform.Core.Teams;
using EvalPlatform.Tests.Infrastructure;
using EvalPlatform.Tests.Integration.Notifications;
using MimeKit;

namespace EvalPlatform.Tests.Integration.Email;

/// <summary>
/// E-mail notifications end to end (ADR 25): a rejected trace becomes one outbox e-mail per member who chose it, the
/// real MailKit client delivers it to a local SMTP server that speaks real SMTP, 4xx answers are retried and 5xx answers
/// fail at once with the server's reply, and nothing crosses teams.
/// </summary>
public abstract class EmailNotificationTests(EmailAppFactory app)
{
    private const string Hostile = "<script>alert('pwned')</script> & \"friends\"";

    private FakeSmtpServer Smtp => app.Smtp;

    private async Task<(ApiClient Api, TestTeam Team)> TeamAsync() =>
        await ApiClient.ForNewTeamAsync(app, ApiKeyScopes.Admin | ApiKeyScopes.Ingest | ApiKeyScopes.Read | ApiKeyScopes.Review);

    private async Task<(string UserId, string Email)> MemberWantingEmailAsync(Guid teamId)
    {
        var member = await TestData.CreateMemberAsync(app.Services, teamId, TeamRole.Reviewer);
        await AsMember.ChooseEmailAsync(app.Services, teamId, member.UserId, NotificationEventTypes.TraceReviewed);
        return member;
    }

    private static async Task<Guid> RejectAsync(ApiClient api, string name = Hostile)
    {
        var id = await api.PostTraceAsync(new { name, user_input = "Where is my refund?", response = "It was sent yesterday." });
        var response = await api.PostJsonAsync($"/api/v1/traces/{id}/review", new { action = "reject", reason = "hallucination", detail = "Invents a date." });
        Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        return id;
    }

    private Task<IReadOnlyList<DeliveryInfo>> EmailsAsync(Guid teamId, string userId) => AsMember.EmailsAsync(app.Services, teamId, userId);

    [Fact]
    public async Task RejectedTrace_IsEmailedToTheMemberWhoChoseIt_WithFromToSubjectTextAndEncodedHtml()
    {
        var (api, team) = await TeamAsync();
        using var _ = api;
        var wants = await MemberWantingEmailAsync(team.Id);
        var inAppOnly = await TestData.CreateMemberAsync(app.Services, team.Id, TeamRole.Reviewer);
        var traceId = await RejectAsync(api);

        Assert.Equal("pending", Assert.Single(await EmailsAsync(team.Id, wants.UserId)).Status);
        Assert.Empty(await EmailsAsync(team.Id, inAppOnly.UserId));
        Assert.Empty(await EmailsAsync(team.Id, team.OwnerId));

        await app.DeliverAsync();

        var mail = Assert.Single(Smtp.To(wants.Email));
        var message = mail.Message;
        Assert.Equal(EmailAppFactory.FromAddress, mail.MailFrom);
        var from = Assert.IsType<MailboxAddress>(Assert.Single(message.From));
        Assert.Equal(EmailAppFactory.FromAddress, from.Address);
        Assert.Equal(EmailAppFactory.FromName, from.Name);
        Assert.Equal(wants.Email, Assert.IsType<MailboxAddress>(Assert.Single(message.To)).Address);
        Assert.Equal("[Warning] Trace rejected: Hallucination", message.Subject);
        Assert.Equal("auto-generated", message.Headers["Auto-Submitted"]);
        var link = $"{NotificationAppFactory.PublicBaseUrl}/traces/{traceId}";

        // Plain text carries the trace's name as it is; HTML carries it encoded, never as markup.
        Assert.Contains(Hostile, message.TextBody, StringComparison.Ordinal);
        Assert.Contains(link, message.TextBody, StringComparison.Ordinal);
        var html = message.HtmlBody;
        Assert.DoesNotContain("<script>", html, StringComparison.OrdinalIgnoreCase);
        Assert.Contains(WebUtility.HtmlEncode(Hostile), html, StringComparison.Ordinal);
        Assert.Contains("&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt; &amp; &quot;friends&quot;", html, StringComparison.Ordinal);
        Assert.Contains($"href=\"{link}\"", html, StringComparison.Ordinal);

        var delivered = Assert.Single(await EmailsAsync(team.Id, wants.UserId));
        Assert.Equal("delivered", delivered.Status);
        Assert.Equal(250, delivered.ResponseCode);
        Assert.Null(delivered.ChannelId);
        Assert.Empty(Smtp.To(inAppOnly.Email));
        Assert.Empty(Smtp.To(team.OwnerEmail));

        // Delivered once: another pass sends nothing.
        await app.DeliverAsync();
        Assert.Single(Smtp.To(wants.Email));
    }

    [Fact]
    public async Task Transient421And451_AreRetriedWithBackoff_ThenDelivered()
    {
        var (api, team) = await TeamAsync();
        using var _ = api;
        var member = await MemberWantingEmailAsync(team.Id);
        Smtp.Script(SmtpStage.Greeting, "421 4.3.2 Service not available, closing transmission channel");
        Smtp.Script(SmtpStage.EndOfData, "451 4.3.0 Mail server temporarily rejected message");
        await RejectAsync(api, "flaky");

        await app.DeliverAsync();
        var first = Assert.Single(await EmailsAsync(team.Id, member.UserId));
        Assert.Equal("pending", first.Status);
        Assert.Equal(1, first.Attempts);
        Assert.Equal(421, first.ResponseCode);
        Assert.Contains("421", first.LastError, StringComparison.Ordinal);
        Assert.InRange(first.NextAttemptAt - app.Clock.GetUtcNow(), TimeSpan.FromSeconds(7), TimeSpan.FromSeconds(16));

        // Not before its time.
        await app.DeliverAsync();
        Assert.Equal(1, Assert.Single(await EmailsAsync(team.Id, member.UserId)).Attempts);

        app.Clock.Advance(TimeSpan.FromSeconds(16));
        await app.DeliverAsync();
        var second = Assert.Single(await EmailsAsync(team.Id, member.UserId));
        Assert.Equal("pending", second.Status);
        Assert.Equal(2, second.Attempts);
        Assert.Equal(451, second.ResponseCode);
        Assert.Contains("451 4.3.0 Mail server temporarily rejected message", second.LastError, StringComparison.Ordinal);
        Assert.Empty(Smtp.To(member.Email));

        app.Clock.Advance(TimeSpan.FromSeconds(31));
        await app.DeliverAsync();
        var done = Assert.Single(await EmailsAsync(team.Id, member.UserId));
        Assert.Equal("delivered", done.Status);
        Assert.Equal(3, done.Attempts);
        Assert.Single(Smtp.To(member.Email));
    }

    [Fact]
    public async Task Permanent550_FailsAtOnceWithTheReply_AndRedeliverSendsItAgain()
    {
        var (api, team) = await TeamAsync();
        using var _ = api;
        var member = await MemberWantingEmailAsync(team.Id);
        Smtp.Script(SmtpStage.RcptTo, "550 5.1.1 Recipient address rejected: mailbox unavailable");
        await RejectAsync(api, "to a closed mailbox");

        await app.DeliverAsync();
        var failed = Assert.Single(await EmailsAsync(team.Id, member.UserId));
        Assert.Equal("failed", failed.Status);
        Assert.Equal(1, failed.Attempts);
        Assert.Equal(550, failed.ResponseCode);
        Assert.Contains("550 5.1.1 Recipient address rejected: mailbox unavailable", failed.LastError, StringComparison.Ordinal);
        Assert.Empty(Smtp.To(member.Email));

        // The mailbox is back: Redeliver queues the same event again, and it arrives.
        app.Clock.Advance(TimeSpan.FromSeconds(1));
        var again = await AsMember.EmailAsync(app.Services, team.Id, member.UserId, e => e.RedeliverAsync(failed.Id));
        Assert.Equal(failed.EventId, again.EventId);
        await app.DeliverAsync();
        var rows = await EmailsAsync(team.Id, member.UserId);
        Assert.Equal(["delivered", "failed"], rows.Select(r => r.Status));
        Assert.Single(Smtp.To(member.Email));
    }

    [Fact]
    public async Task AnotherTeamsMembers_GetNothing_AndCannotSeeOrRedeliverIt()
    {
        var (api, team) = await TeamAsync();
        using var _ = api;
        var (otherApi, other) = await TeamAsync();
        using var __ = otherApi;
        var member = await MemberWantingEmailAsync(team.Id);
        var neighbour = await MemberWantingEmailAsync(other.Id);
        await RejectAsync(api, "ours only");

        await app.DeliverAsync();

        Assert.Single(Smtp.To(member.Email));
        Assert.Empty(Smtp.To(neighbour.Email));
        Assert.Empty(await EmailsAsync(other.Id, neighbour.UserId));
        var ours = Assert.Single(await EmailsAsync(team.Id, member.UserId));
        // The neighbour in their own team cannot touch our member's e-mail.
        await Assert.ThrowsAsync<Core.Common.NotFoundException>(() => AsMember.EmailAsync(app.Services, other.Id, neighbour.UserId, e => e.RedeliverAsync(ours.Id)));
    }

    [Fact]
    public async Task SendTest_ArrivesAtTheMembersAddress_OrShowsTheSmtpError()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        var member = await TestData.CreateMemberAsync(app.Services, team.Id, TeamRole.Viewer);

        var sent = await AsMember.EmailAsync(app.Services, team.Id, member.UserId, e => e.SendTestAsync());
        Assert.True(sent.Delivered, sent.Error);
        var mail = Assert.Single(Smtp.To(member.Email));
        Assert.Equal("Test e-mail from EvalPlatform", mail.Message.Subject);
        Assert.Contains($"{NotificationAppFactory.PublicBaseUrl}/notifications", mail.Message.TextBody, StringComparison.Ordinal);

        Smtp.Script(SmtpStage.Auth, "535 5.7.8 Authentication credentials invalid");
        var refused = await AsMember.EmailAsync(app.Services, team.Id, member.UserId, e => e.SendTestAsync());
        Assert.False(refused.Delivered);
        Assert.True(refused.Permanent);
        Assert.Equal(535, refused.StatusCode);
        Assert.Contains("535", refused.Error, StringComparison.Ordinal);
        Assert.Single(Smtp.To(member.Email));
    }
}

public sealed class PostgresEmailNotificationTests(EmailPostgresAppFactory app) : EmailNotificationTests(app), IClassFixture<EmailPostgresAppFactory>;

public sealed class SqliteEmailNotificationTests(EmailSqliteAppFactory app) : EmailNotificationTests(app), IClassFixture<EmailSqliteAppFactory>;
