using EvalPlatform.Core.Email;
using EvalPlatform.Core.Notifications;
using EvalPlatform.Core.Outbound;
using EvalPlatform.Web.Email;
using Microsoft.Extensions.Options;

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

        services.AddEvalEmail();
        AddSender<SlackSender>(services);
        AddSender<WebhookSender>(services);
        services.AddSingleton<DeliveryNudge>();
        services.AddSingleton<INotificationCommitObserver, NotificationCommitObserver>();
        services.AddHostedService<DeliveryNudgeWorker>();
        return builder;
    }

    /// <summary>
    /// E-mail (ADR 25): the <c>Smtp</c> section (checked at start: a host without a sender is one line naming the
    /// setting), the MailKit sender every feature mails through, and how a notification reads as an e-mail.
    /// </summary>
    public static IServiceCollection AddEvalEmail(this IServiceCollection services)
    {
        services.AddOptions<SmtpOptions>().BindConfiguration(SmtpOptions.SectionName).ValidateOnStart();
        services.AddSingleton<IValidateOptions<SmtpOptions>, SmtpOptionsValidator>();
        services.AddOptions<AppOptions>();
        services.AddSingleton<IEmailSender, MailKitEmailSender>();
        services.AddSingleton<INotificationEmailComposer, NotificationEmailComposer>();
        return services;
    }

    private static void AddSender<TSender>(IServiceCollection services) where TSender : class, INotificationSender
    {
        services.AddHttpClient<TSender>(http => http.Timeout = Timeout.InfiniteTimeSpan) // the deliverer's own timeout applies
            .ConfigurePrimaryHttpMessageHandler(sp => sp.GetRequiredService<OutboundGuard>().CreateHandler());
        services.AddTransient<INotificationSender>(sp => sp.GetRequiredService<TSender>());
    }
}

/// <summary>Refuses a half-configured <c>Smtp</c> section with one line naming the setting (<see cref="SmtpOptions.Problem"/>).</summary>
internal sealed class SmtpOptionsValidator : IValidateOptions<SmtpOptions>
{
    public ValidateOptionsResult Validate(string? name, SmtpOptions options) =>
        options.Problem() is { } problem ? ValidateOptionsResult.Fail(problem) : ValidateOptionsResult.Success;
}
