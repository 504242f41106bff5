using EvalPlatform.Core.Notifications;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Tests.Infrastructure;
using EvalPlatform.Tests.Integration.Notifications;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace EvalPlatform.Tests.Integration.Email;

/// <summary>The notification app (test clock, jobs off) with SMTP pointed at a local <see cref="FakeSmtpServer"/>, with a login.</summary>
public abstract class EmailAppFactory(TestDatabase database, bool redis) : NotificationAppFactory(database, redis)
{
    public const string FromAddress = "alerts@eval.example.test";
    public const string FromName = "EvalPlatform Alerts";

    public FakeSmtpServer Smtp { get; private set; } = default!;

    public override async Task InitializeAsync()
    {
        Smtp = FakeSmtpServer.Start();
        await base.InitializeAsync();
        Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopped.Register(() => Smtp.DisposeAsync().AsTask().GetAwaiter().GetResult());
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        Smtp.ConfigureApp(builder, $"{FromName} <{FromAddress}>", login: true);
    }
}

public sealed class EmailPostgresAppFactory() : EmailAppFactory(TestDatabase.Postgres, redis: true);

public sealed class EmailSqliteAppFactory() : EmailAppFactory(TestDatabase.Sqlite, redis: false);

/// <summary>What the e-mail tests do as a member: choose e-mail events, read their e-mail log, use the member's e-mail service.</summary>
internal static class AsMember
{
    public static async Task ChooseEmailAsync(IServiceProvider services, Guid teamId, string userId, params string[] types)
    {
        await using var scope = services.CreateAsyncScope();
        scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(teamId, userId, TeamRole.Reviewer);
        await scope.ServiceProvider.GetRequiredService<InAppNotificationService>()
            .SavePreferencesAsync(new MemberPreferences(NotificationPreferences.DefaultInApp, types));
    }

    public static async Task<T> EmailAsync<T>(IServiceProvider services, Guid teamId, string userId, Func<MemberEmailService, Task<T>> act)
    {
        await using var scope = services.CreateAsyncScope();
        scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(teamId, userId, TeamRole.Reviewer);
        return await act(scope.ServiceProvider.GetRequiredService<MemberEmailService>());
    }

    public static Task<IReadOnlyList<DeliveryInfo>> EmailsAsync(IServiceProvider services, Guid teamId, string userId) =>
        EmailAsync(services, teamId, userId, e => e.RecentAsync());
}
