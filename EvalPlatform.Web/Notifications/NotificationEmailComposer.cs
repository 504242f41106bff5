using System.Net;
using System.Text;
using EvalPlatform.Core.Email;
using EvalPlatform.Core.Notifications;
using EvalPlatform.Web.Components.Pages.Notifications;
using Microsoft.Extensions.Options;

namespace EvalPlatform.Web.Notifications;

/// <summary>
/// An event as an e-mail (ADR 25): the subject is the title, the plain-text part the title, text and link, the HTML part
/// the same with every piece of event content HTML-encoded (titles carry trace names: untrusted) and the link absolute
/// from <c>App:PublicBaseUrl</c> (no base URL: no link, as in Slack messages).
/// </summary>
public sealed class NotificationEmailComposer(IOptionsMonitor<AppOptions> app) : INotificationEmailComposer
{
    public EmailMessage Compose(StoredNotification notification, string recipient)
    {
        ArgumentNullException.ThrowIfNull(notification);
        var link = app.CurrentValue.Absolute(notification.Link);
        var settings = app.CurrentValue.Absolute("/notifications");
        var kind = notification.Type == "test" ? "Test" : NotificationText.EventLabel(notification.Type);
        var prefix = notification.Severity == NotificationSeverity.Info ? "" : $"[{notification.Severity}] ";
        var subject = OneLine($"{prefix}{notification.Title}");

        var text = new StringBuilder()
            .AppendLine(notification.Title).AppendLine()
            .AppendLine(notification.Text);
        if (link is not null)
        {
            text.AppendLine().Append("Open: ").AppendLine(link);
        }

        text.AppendLine().AppendLine("--").Append(kind).Append(" · EvalPlatform. You get this because your notification preferences send it by e-mail")
            .AppendLine(settings is null ? "." : ": " + settings);

        string E(string s) => WebUtility.HtmlEncode(s);
        var html = new StringBuilder()
            .Append("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>").Append(E(subject)).Append("</title></head>")
            .Append("<body style=\"font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1f2328;line-height:1.5\">")
            .Append("<p style=\"color:#59636e;font-size:13px;margin:0\">").Append(E(kind)).Append("</p>")
            .Append("<h1 style=\"font-size:18px;margin:4px 0 12px\">").Append(E(notification.Title)).Append("</h1>")
            .Append("<p style=\"white-space:pre-wrap;margin:0 0 16px\">").Append(E(notification.Text)).Append("</p>");
        if (link is not null)
        {
            html.Append("<p><a href=\"").Append(E(link)).Append("\" style=\"color:#0969da\">Open in EvalPlatform</a></p>");
        }

        html.Append("<hr style=\"border:none;border-top:1px solid #d1d9e0\"><p style=\"color:#59636e;font-size:12px\">")
            .Append("You get this because your notification preferences send it by e-mail");
        if (settings is not null)
        {
            html.Append(" (<a href=\"").Append(E(settings)).Append("\" style=\"color:#59636e\">change them</a>)");
        }

        html.Append(".</p></body></html>");
        return new EmailMessage(recipient, subject, text.ToString(), html.ToString());
    }

    private static string OneLine(string s)
    {
        var line = s.ReplaceLineEndings(" ").Trim();
        return line.Length <= 200 ? line : line[..199] + "…";
    }
}
