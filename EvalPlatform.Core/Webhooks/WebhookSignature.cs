using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace EvalPlatform.Core.Webhooks;

/// <summary>A parsed <c>X-EvalPlatform-Signature</c> header: the sender's timestamp and its v1 signatures.</summary>
public sealed record SignatureHeader(long Timestamp, IReadOnlyList<byte[]> Signatures);

/// <summary>
/// The webhook signature scheme: <c>X-EvalPlatform-Signature: t=&lt;unix seconds&gt;,v1=&lt;hex&gt;</c>, where
/// the hex is HMAC-SHA256, keyed with the secret's UTF-8 bytes (the whole <c>whsec_…</c> text), over
/// the ASCII timestamp, a dot and the raw body bytes. Inbound webhooks also sign the path they are sent to
/// (<c>"{t}.{path and query}.{body}"</c>, e.g. <c>/api/v1/webhooks/github?team=…</c>), so a delivery cannot be
/// replayed to another source or team (ADR 35); outbound notification deliveries sign <c>"{t}.{body}"</c>.
/// Several <c>v1</c> entries may be sent (one per secret during a rotation); one match is enough. Unknown entries
/// are ignored, for later versions.
/// </summary>
public static class WebhookSignature
{
    public const string HeaderName = "X-EvalPlatform-Signature";

    /// <summary>How far the timestamp may be from the server's clock, either way (replay protection).</summary>
    public static readonly TimeSpan Tolerance = TimeSpan.FromMinutes(5);

    private const int HmacBytes = 32;
    private const int MaxHeaderLength = 1024;

    /// <summary>Reads the header; false with a reason (for the 401 problem) when it is missing or malformed.</summary>
    public static bool TryParse(string? header, out SignatureHeader parsed, out string error)
    {
        parsed = new SignatureHeader(0, []);
        if (string.IsNullOrWhiteSpace(header))
        {
            error = $"Missing {HeaderName} header: send 't=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.<body>\">'.";
            return false;
        }

        error = $"Malformed {HeaderName} header: expected 't=<unix seconds>,v1=<64 hex digits>'.";
        if (header.Length > MaxHeaderLength)
        {
            return false;
        }

        long? timestamp = null;
        var signatures = new List<byte[]>();
        foreach (var part in header.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = part.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                return false;
            }

            var key = part[..equals];
            var value = part[(equals + 1)..];
            if (key == "t")
            {
                if (timestamp is not null || !long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var t))
                {
                    return false;
                }

                timestamp = t;
            }
            else if (key == "v1")
            {
                if (value.Length != HmacBytes * 2 || !IsHex(value))
                {
                    return false;
                }

                signatures.Add(Convert.FromHexString(value));
            }
        }

        if (timestamp is null || signatures.Count == 0)
        {
            return false;
        }

        parsed = new SignatureHeader(timestamp.Value, signatures);
        error = "";
        return true;
    }

    /// <summary>Null when <paramref name="timestamp"/> is within <see cref="Tolerance"/> of <paramref name="now"/>; else why not.</summary>
    public static string? CheckTimestamp(long timestamp, DateTimeOffset now)
    {
        var nowSeconds = now.ToUnixTimeSeconds();
        var tolerance = (long)Tolerance.TotalSeconds;
        if (timestamp < nowSeconds - tolerance)
        {
            return $"The signature's timestamp is too old ({nowSeconds - timestamp} s ago; at most {tolerance} s are accepted). Sign each delivery when it is sent.";
        }

        if (timestamp > nowSeconds + tolerance)
        {
            return $"The signature's timestamp is too far in the future ({timestamp - nowSeconds} s ahead; at most {tolerance} s are accepted). Check the sender's clock.";
        }

        return null;
    }

    /// <summary>
    /// HMAC-SHA256 of <c>"{timestamp}.{body}"</c>, or with a <paramref name="path"/> of <c>"{timestamp}.{path}.{body}"</c>,
    /// keyed with <paramref name="secret"/>, without copying the body.
    /// </summary>
    public static byte[] Compute(string secret, long timestamp, ReadOnlySpan<byte> body, string? path = null)
    {
        using var hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, Encoding.UTF8.GetBytes(secret));
        hmac.AppendData(Encoding.ASCII.GetBytes(timestamp.ToString(CultureInfo.InvariantCulture) + "."));
        if (path is not null)
        {
            hmac.AppendData(Encoding.UTF8.GetBytes(path + "."));
        }

        hmac.AppendData(body);
        return hmac.GetHashAndReset();
    }

    /// <summary>The header value a sender puts on <paramref name="body"/> (what the settings page and the docs show).</summary>
    public static string Sign(string secret, long timestamp, ReadOnlySpan<byte> body, string? path = null) =>
        $"t={timestamp.ToString(CultureInfo.InvariantCulture)},v1={Convert.ToHexStringLower(Compute(secret, timestamp, body, path))}";

    /// <summary>
    /// True when any presented signature is the HMAC of the body under any of the secrets. Every
    /// pair is compared in constant time, and all pairs are compared, so the time taken says nothing
    /// about which secret or how many bytes matched.
    /// </summary>
    public static bool Verify(IReadOnlyList<string> secrets, SignatureHeader header, ReadOnlySpan<byte> body, string? path = null)
    {
        var matched = false;
        foreach (var secret in secrets)
        {
            var expected = Compute(secret, header.Timestamp, body, path);
            foreach (var presented in header.Signatures)
            {
                matched |= CryptographicOperations.FixedTimeEquals(expected, presented);
            }
        }

        return matched;
    }

    private static bool IsHex(string value)
    {
        foreach (var c in value)
        {
            if (!char.IsAsciiHexDigit(c))
            {
                return false;
            }
        }

        return true;
    }
}
