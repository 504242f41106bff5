using System.Globalization;

namespace EvalPlatform.Core.Teams;

/// <summary>
/// A browser origin (<c>https://app.example.com</c>, <c>http://localhost:3000</c>) as the ingestion routes' CORS compares it:
/// scheme <c>http</c> or <c>https</c>, a host, an optional port; no path, query, fragment or user name. The normal form is what
/// a browser puts in its <c>Origin</c> header: lower case, the host in ASCII (punycode), no default port, no trailing slash;
/// so two spellings of one origin compare equal as plain strings.
/// </summary>
public static class IngestionOrigin
{
    /// <summary>Long enough for any real host name (253) with scheme and port.</summary>
    public const int MaxLength = 300;

    /// <summary>How many origins one team may list: a handful of apps, not a directory.</summary>
    public const int MaxPerTeam = 50;

    /// <summary>The configuration's "any origin"; never allowed in a team's list.</summary>
    public const string Wildcard = "*";

    /// <summary>
    /// The normal form of <paramref name="text"/>, or false with <paramref name="error"/> saying what to fix.
    /// A single trailing <c>/</c> is forgiven (browsers' address bars show one); anything else after the host and port is refused.
    /// </summary>
    public static bool TryNormalize(string? text, out string origin, out string error)
    {
        origin = "";
        var trimmed = text?.Trim() ?? "";
        error = Check(trimmed);
        if (error.Length > 0)
        {
            return false;
        }

        var candidate = trimmed.EndsWith('/') ? trimmed[..^1] : trimmed;
        if (!Uri.TryCreate(candidate, UriKind.Absolute, out var uri) || uri.HostNameType is UriHostNameType.Unknown or UriHostNameType.Basic || uri.Host.Length == 0)
        {
            error = $"'{Shorten(trimmed)}' is not an origin: use scheme, host and optional port, such as https://app.example.com or http://localhost:3000.";
            return false;
        }

        if (uri.Scheme is not ("http" or "https"))
        {
            error = $"An origin starts with http:// or https:// (got '{uri.Scheme}:').";
            return false;
        }

        // Uri accepts "https://app.example.com/chat" and "https://a.com:443/": only the bare origin (or one trailing slash) is one.
        var afterScheme = candidate[(candidate.IndexOf("://", StringComparison.Ordinal) + 3)..];
        if (afterScheme.Contains('/', StringComparison.Ordinal) || uri.AbsolutePath != "/")
        {
            error = $"An origin has no path: use {uri.Scheme}://{uri.Authority}, not '{Shorten(trimmed)}'.";
            return false;
        }

        var port = uri.IsDefaultPort ? "" : ":" + uri.Port.ToString(CultureInfo.InvariantCulture);
        // IdnHost gives punycode as browsers send it, but drops an IPv6 address's brackets, which Host keeps.
        var host = uri.HostNameType == UriHostNameType.IPv6 ? uri.Host : uri.IdnHost;
        origin = $"{uri.Scheme}://{host}{port}".ToLowerInvariant();
        return true;
    }

    /// <summary>The normal form, or <see cref="Common.DomainValidationException"/> naming <paramref name="field"/>.</summary>
    public static string Normalize(string field, string? text) =>
        TryNormalize(text, out var origin, out var error) ? origin : throw new Common.DomainValidationException(field, error);

    private static string Check(string text)
    {
        if (text.Length == 0)
        {
            return "Enter an origin, such as https://app.example.com.";
        }

        if (text.Length > MaxLength)
        {
            return $"An origin is at most {MaxLength} characters.";
        }

        if (text == Wildcard || text.Contains('*', StringComparison.Ordinal))
        {
            return "Wildcards are not allowed here: list each origin that may send, such as https://app.example.com.";
        }

        if (string.Equals(text, "null", StringComparison.OrdinalIgnoreCase))
        {
            return "The 'null' origin (files, sandboxed frames) cannot be allowed: serve the page from http:// or https://.";
        }

        if (text.Any(char.IsWhiteSpace))
        {
            return "An origin has no spaces.";
        }

        if (text.Contains('?', StringComparison.Ordinal) || text.Contains('#', StringComparison.Ordinal))
        {
            return $"An origin has no query or fragment ('?' or '#'): '{Shorten(text)}'.";
        }

        if (text.Contains('@', StringComparison.Ordinal) || text.Contains('\\', StringComparison.Ordinal))
        {
            return $"An origin has no user name or backslash: '{Shorten(text)}'.";
        }

        return "";
    }

    private static string Shorten(string text) => text.Length <= 80 ? text : text[..80] + "…";
}
