using EvalPlatform.Core.Notifications;
using EvalPlatform.Core.Outbound;

namespace EvalPlatform.Web.Notifications;

public static class NotificationsServiceCollectionExtensions
{
    /// <summary>
    /// The notification senders as typed HttpClients whose every connection passes the SSRF guard
    /// (<see cref="OutboundGuard.ConnectAsync"/>), their options, and the after-commit nudge and bell refresh.
    /// </summary>
    public static WebApplicationBuilder AddEvalNotifications(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<OutboundOptions>().BindConfiguration(OutboundOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<NotificationOptions>().BindConfiguration(NotificationOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<SlackOptions>().BindConfiguration(SlackOptions.SectionName)
            .Validate(o => Uri.TryCreate(o.ApiBaseUrl, UriKind.Absolute, out var u) && (u.Scheme == Uri.UriSchemeHttps || u.Scheme == Uri.UriSchemeHttp),
                "Slack:ApiBaseUrl must be an absolute http(s) URL.")
            .ValidateOnStart();
        services.AddOptions<AppOptions>().BindConfiguration(AppOptions.SectionName)
            .Validate(o => string.IsNullOrWhiteSpace(o.PublicBaseUrl) || Uri.TryCreate(o.PublicBaseUrl, UriKind.Absolute, out _),
                "App:PublicBaseUrl must be an absolute URL such as https://eval.example.com.")
            .ValidateOnStart();

        AddSender<SlackSender>(services);
        AddSender<WebhookSender>(services);
        services.AddSingleton<DeliveryNudge>();
        services.AddSingleton<INotificationCommitObserver, NotificationCommitObserver>();
        services.AddHostedService<DeliveryNudgeWorker>();
        return builder;
    }

    private static void AddSender<TSender>(IServiceCollection services) where TSender : class, INotificationSender
    {
        services.AddHttpClient<TSender>(http => http.Timeout = Timeout.InfiniteTimeSpan) // the deliverer's own timeout applies
            .ConfigurePrimaryHttpMessageHandler(sp => sp.GetRequiredService<OutboundGuard>().CreateHandler());
        services.AddTransient<INotificationSender>(sp => sp.GetRequiredService<TSender>());
    }
}
