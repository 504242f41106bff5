using System.Globalization;
using System.Net.Sockets;
using EvalPlatform.Core.Email;
using MailKit;
using MailKit.Net.Smtp;
using MailKit.Security;
using Microsoft.Extensions.Options;
using MimeKit;

namespace EvalPlatform.Web.Email;

/// <summary>
/// <see cref="IEmailSender"/> over SMTP with MailKit: one connection per message (the platform sends a few mails a
/// minute, not bulk), <c>Smtp:Security</c> as MailKit's <see cref="SecureSocketOptions"/>, a login when
/// <c>Smtp:UserName</c> is set. The server's answer decides the outcome: a 4xx reply, a refused or dropped connection
/// or a timeout is transient (retried by the outbox); a 5xx reply (550 mailbox unavailable, 535 authentication failed)
/// is permanent, with the reply as the error.
/// </summary>
public sealed class MailKitEmailSender(IOptionsMonitor<SmtpOptions> options) : IEmailSender
{
    public bool IsConfigured => options.CurrentValue.IsConfigured;

    public async Task<EmailSendResult> SendAsync(EmailMessage message, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(message);
        var o = options.CurrentValue;
        if (!o.IsConfigured)
        {
            return new EmailSendResult(false, null, "E-mail is not configured on this server (Smtp:Host).", Permanent: true);
        }

        MimeMessage mime;
        try
        {
            mime = Build(message, o);
        }
        catch (ParseException e)
        {
            return new EmailSendResult(false, null, $"Not a usable address: {e.Message}", Permanent: true);
        }

        var timeout = TimeSpan.FromSeconds(o.TimeoutSeconds);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(timeout);
        using var client = new SmtpClient { Timeout = (int)timeout.TotalMilliseconds };
        try
        {
            await client.ConnectAsync(o.Host!, o.Port, Map(o.Security), cts.Token);
            if (!string.IsNullOrEmpty(o.UserName))
            {
                await client.AuthenticateAsync(o.UserName, o.Password ?? "", cts.Token);
            }

            await client.SendAsync(mime, cts.Token);
            await QuitQuietlyAsync(client);
            return EmailSendResult.Accepted();
        }
        catch (SmtpCommandException e)
        {
            var code = (int)e.StatusCode;
            return new EmailSendResult(false, code, Reply(code, e.Message), Permanent: code >= 500);
        }
        catch (AuthenticationException e)
        {
            // MailKit raises this for 535 (and 534/538 and a failed SASL exchange): the credentials are wrong; retrying cannot help.
            return new EmailSendResult(false, 535, Reply(535, e.Message), Permanent: true);
        }
        catch (SslHandshakeException e)
        {
            return new EmailSendResult(false, null, $"TLS with {o.Host}:{o.Port} failed (check Smtp:Security and Smtp:Port): {First(e.Message)}", Permanent: false);
        }
        catch (NotSupportedException e)
        {
            // STARTTLS or AUTH required by the settings but not offered by the server.
            return new EmailSendResult(false, null, $"The SMTP server at {o.Host}:{o.Port} cannot do what Smtp: asks: {e.Message}", Permanent: false);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return new EmailSendResult(false, null, $"No answer from {o.Host}:{o.Port} within {timeout.TotalSeconds:0} s.", Permanent: false);
        }
        catch (Exception e) when (e is SocketException or IOException or TimeoutException or SmtpProtocolException or ServiceNotConnectedException)
        {
            return new EmailSendResult(false, null, $"SMTP {o.Host}:{o.Port}: {First(e.GetBaseException().Message)}", Permanent: false);
        }
    }

    private static MimeMessage Build(EmailMessage message, SmtpOptions o)
    {
        var mime = new MimeMessage();
        mime.From.Add(MailboxAddress.Parse(o.From!)); // set whenever Host is (SmtpOptions.Problem)
        var to = MailboxAddress.Parse(message.To);
        if (!string.IsNullOrWhiteSpace(message.ToName))
        {
            to.Name = message.ToName;
        }

        mime.To.Add(to);
        mime.Subject = message.Subject;
        // RFC 3834: machine-made mail; auto-responders (out of office) do not answer it.
        mime.Headers.Add("Auto-Submitted", "auto-generated");
        mime.Body = new BodyBuilder { TextBody = message.TextBody, HtmlBody = message.HtmlBody }.ToMessageBody();
        return mime;
    }

    private static async Task QuitQuietlyAsync(SmtpClient client)
    {
        try
        {
            await client.DisconnectAsync(quit: true, CancellationToken.None);
        }
        catch (Exception e) when (e is IOException or SocketException or SmtpProtocolException or SmtpCommandException or TimeoutException)
        {
            // The message was accepted; a QUIT that fails changes nothing.
        }
    }

    internal static SecureSocketOptions Map(SmtpSecurity security) => security switch
    {
        SmtpSecurity.None => SecureSocketOptions.None,
        SmtpSecurity.SslOnConnect => SecureSocketOptions.SslOnConnect,
        SmtpSecurity.Auto => SecureSocketOptions.Auto,
        _ => SecureSocketOptions.StartTls,
    };

    private static string Reply(int code, string text)
    {
        var line = First(text);
        return line.StartsWith(code.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal) ? line : $"{code} {line}";
    }

    private static string First(string text)
    {
        var line = text.ReplaceLineEndings(" ").Trim();
        return line.Length <= 500 ? line : line[..499] + "…";
    }
}
