namespace EvalPlatform.Core.Email;

/// <summary>
/// One e-mail to one person. <see cref="HtmlBody"/> is sent as given: whoever composes it HTML-encodes every piece of
/// user or trace content in it (trace content is untrusted); <see cref="TextBody"/> is the plain-text alternative.
/// </summary>
/// <param name="To">The recipient's address.</param>
/// <param name="Subject">One line.</param>
/// <param name="TextBody">The plain-text part.</param>
/// <param name="HtmlBody">The HTML part.</param>
/// <param name="ToName">The recipient's display name, if any.</param>
public sealed record EmailMessage(string To, string Subject, string TextBody, string HtmlBody, string? ToName = null);

/// <summary>What one SMTP conversation came to.</summary>
/// <param name="Sent">The server accepted the message.</param>
/// <param name="ReplyCode">The SMTP reply code that decided it (250 when sent; 421, 451, 535, 550… when not), when there was one.</param>
/// <param name="Error">The server's reply (or the connection failure), or null when sent.</param>
/// <param name="Permanent">Retrying cannot help (a 5xx reply: 550 mailbox unavailable, 535 authentication failed).</param>
public sealed record EmailSendResult(bool Sent, int? ReplyCode, string? Error, bool Permanent)
{
    public static EmailSendResult Accepted(int replyCode = 250) => new(true, replyCode, null, false);
}

/// <summary>
/// The platform's one way to send an e-mail (notifications, test messages, later invitations), configured by the
/// <c>Smtp</c> section; implemented with MailKit in Web. One attempt per call: retries are the caller's (the outbox's).
/// </summary>
public interface IEmailSender
{
    /// <summary>Whether the server has SMTP configured; when not, nothing should be queued for e-mail.</summary>
    bool IsConfigured { get; }

    /// <summary>
    /// Sends one message. Never throws for the server's answers or an unreachable server (they are the result:
    /// 4xx replies, connection failures and timeouts are transient, 5xx replies permanent); cancellation propagates.
    /// </summary>
    Task<EmailSendResult> SendAsync(EmailMessage message, CancellationToken ct);
}
