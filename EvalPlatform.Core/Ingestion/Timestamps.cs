using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace EvalPlatform.Core.Ingestion;

/// <summary>
/// Reads a point in time in every form the SDKs send, alike on every door: ISO 8601 with any number of
/// fractional digits (Python's microseconds, the JS SDK's microsecond-padded start times, OTel's
/// nanoseconds; digits past the 100 ns tick are dropped), without an offset meaning UTC (Python's naive
/// <c>isoformat()</c>), or a number since 1970 (as JSON number or numeric string) in seconds,
/// milliseconds, microseconds or nanoseconds, told apart by magnitude (see <see cref="FromEpoch(double)"/>).
/// </summary>
public static class Timestamps
{
    /// <summary>The sentence every door uses when a time cannot be read.</summary>
    public const string Expected = "Must be an ISO 8601 time (e.g. 2026-08-20T10:00:00.123456Z) or a number since 1970 in seconds, milliseconds, microseconds or nanoseconds.";

    private static readonly DateTimeOffset Max = new(9999, 12, 31, 0, 0, 0, TimeSpan.Zero);

    public static DateTimeOffset? Parse(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => Parse(value.GetString()),
        JsonValueKind.Number => value.TryGetInt64(out var whole) ? FromEpoch(whole) : value.TryGetDouble(out var d) ? FromEpoch(d) : null,
        _ => null,
    };

    public static DateTimeOffset? Parse(JsonNode? node) => node switch
    {
        JsonValue v when v.GetValueKind() == JsonValueKind.String => Parse(v.GetValue<string>()),
        JsonValue v when v.GetValueKind() == JsonValueKind.Number =>
            v.TryGetValue<long>(out var whole) ? FromEpoch(whole) : v.TryGetValue<double>(out var d) ? FromEpoch(d) : null,
        _ => null,
    };

    public static DateTimeOffset? Parse(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        text = text.Trim();
        if (long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var whole))
        {
            return FromEpoch(whole);
        }

        if (double.TryParse(text, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number))
        {
            return FromEpoch(number);
        }

        return DateTimeOffset.TryParse(TrimFraction(text), CultureInfo.InvariantCulture,
            DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var t)
            ? t.ToUniversalTime()
            : null;
    }

    /// <summary>
    /// A number since 1970: below 10^11 seconds (up to the year 5138), below 10^14 milliseconds, below
    /// 10^17 microseconds, else nanoseconds. Each unit's range covers 1973–5138, so a time a client
    /// sends now is never misread; negative or non-finite numbers are not times.
    /// </summary>
    public static DateTimeOffset? FromEpoch(double value)
    {
        if (!double.IsFinite(value) || value < 0)
        {
            return null;
        }

        var ticks = value switch
        {
            < 1e11 => value * TimeSpan.TicksPerSecond,
            < 1e14 => value * TimeSpan.TicksPerMillisecond,
            < 1e17 => value * 10,
            _ => value / 100,
        };
        return ticks > (Max - DateTimeOffset.UnixEpoch).Ticks ? null : DateTimeOffset.UnixEpoch.AddTicks((long)ticks);
    }

    /// <summary>As <see cref="FromEpoch(double)"/>, exact for whole numbers (a double loses nanoseconds).</summary>
    public static DateTimeOffset? FromEpoch(long value) => value switch
    {
        < 0 => null,
        < 100_000_000_000_000 => FromEpoch((double)value),
        < 100_000_000_000_000_000 => DateTimeOffset.UnixEpoch.AddTicks(value * 10),
        _ => DateTimeOffset.UnixEpoch.AddTicks(value / 100),
    };

    /// <summary>Cuts a fraction of seconds to 7 digits (the parser refuses more).</summary>
    private static string TrimFraction(string text)
    {
        var dot = text.IndexOf('.', StringComparison.Ordinal);
        if (dot < 0)
        {
            return text;
        }

        var end = dot + 1;
        while (end < text.Length && char.IsAsciiDigit(text[end]))
        {
            end++;
        }

        return end - dot - 1 <= 7 ? text : string.Concat(text.AsSpan(0, dot + 8), text.AsSpan(end));
    }
}
