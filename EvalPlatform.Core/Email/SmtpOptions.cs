using System.Net.Mail;

namespace EvalPlatform.Core.Email;

/// <summary>How the connection to the SMTP server is secured (MailKit's <c>SecureSocketOptions</c>, by name).</summary>
public enum SmtpSecurity
{
    /// <summary>Plain text all the way (a relay on localhost or inside the network).</summary>
    None,

    /// <summary>Connect in plain text, then <c>STARTTLS</c>; refuse a server that does not offer it (port 587).</summary>
    StartTls,

    /// <summary>TLS from the first byte (port 465).</summary>
    SslOnConnect,

    /// <summary>TLS on port 465, else <c>STARTTLS</c> when the server offers it, else plain text.</summary>
    Auto,
}

/// <summary>
/// The <c>Smtp</c> section. No <see cref="Host"/> means e-mail is off: nothing is queued for e-mail and the UI says so.
/// A host without a valid <see cref="From"/> is refused at start (<see cref="Problem"/>).
/// </summary>
public sealed class SmtpOptions
{
    public const string SectionName = "Smtp";

    public string? Host { get; set; }

    public int Port { get; set; } = 587;

    public SmtpSecurity Security { get; set; } = SmtpSecurity.StartTls;

    /// <summary>For servers that want a login; empty: no <c>AUTH</c>.</summary>
    public string? UserName { get; set; }

    public string? Password { get; set; }

    /// <summary>The sender: an address, or a display name and an address (<c>EvalPlatform &lt;eval@example.com&gt;</c>).</summary>
    public string? From { get; set; }

    /// <summary>How long one SMTP conversation may take before it counts as a (transient) failure.</summary>
    public int TimeoutSeconds { get; set; } = 30;

    /// <summary>Whether e-mail is on (a host is set).</summary>
    public bool IsConfigured => !string.IsNullOrWhiteSpace(Host);

    /// <summary>What is wrong with a half-configured section, as one line naming the setting, or null when it is usable (or off).</summary>
    public string? Problem()
    {
        if (!IsConfigured)
        {
            return null;
        }

        if (string.IsNullOrWhiteSpace(From))
        {
            return "Smtp:Host is set but Smtp:From is empty: set Smtp:From to the sender's address, e.g. \"EvalPlatform <eval@example.com>\" (or clear Smtp:Host to turn e-mail off).";
        }

        if (!MailAddress.TryCreate(From, out _))
        {
            return $"Smtp:From \"{From}\" is not an e-mail address: use \"eval@example.com\" or \"EvalPlatform <eval@example.com>\".";
        }

        if (Port is < 1 or > 65_535)
        {
            return $"Smtp:Port {Port} is not a TCP port (1-65535; 587 for STARTTLS, 465 for TLS on connect).";
        }

        if (TimeoutSeconds is < 1 or > 600)
        {
            return $"Smtp:TimeoutSeconds {TimeoutSeconds} must be from 1 to 600.";
        }

        if (string.IsNullOrEmpty(UserName) != string.IsNullOrEmpty(Password))
        {
            return "Smtp:UserName and Smtp:Password go together: set both (the server wants a login) or neither.";
        }

        return null;
    }
}
