using EvalPlatform.Core.Notifications;
using EvalPlatform.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace EvalPlatform.Tests.Integration.Notifications;

/// <summary>
/// The app on a test clock (jobs off: the test runs the deliverer itself), with Slack and webhook receivers on a local
/// fake (<see cref="Receiver"/>), private targets allowed for it, a 5-second send timeout and a public base URL for links.
/// </summary>
public abstract class NotificationAppFactory(TestDatabase database, bool redis) : ClockedAppFactory(database, redis)
{
    public const string PublicBaseUrl = "https://eval.example.test";

    public FakeReceiver Receiver { get; private set; } = default!;

    public override async Task InitializeAsync()
    {
        Receiver = await FakeReceiver.StartAsync();
        await base.InitializeAsync();
        // The fake goes when the app goes (the base class's disposal is not virtual).
        Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopped.Register(() => Receiver.DisposeAsync().AsTask().GetAwaiter().GetResult());
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.UseSetting("Outbound:AllowPrivateTargets", "true");
        builder.UseSetting("Outbound:TimeoutSeconds", "5");
        builder.UseSetting("Slack:ApiBaseUrl", Receiver.SlackApiBase);
        builder.UseSetting("App:PublicBaseUrl", PublicBaseUrl);
    }

    /// <summary>One delivery pass, as the job runs it.</summary>
    public async Task<DeliveryRun> DeliverAsync()
    {
        await using var scope = Services.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<NotificationDeliverer>().DeliverDueAsync();
    }
}

public sealed class NotificationPostgresAppFactory() : NotificationAppFactory(TestDatabase.Postgres, redis: true);

public sealed class NotificationSqliteAppFactory() : NotificationAppFactory(TestDatabase.Sqlite, redis: false);
