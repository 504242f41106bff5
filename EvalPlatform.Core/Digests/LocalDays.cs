using EvalPlatform.Core.Common;

namespace EvalPlatform.Core.Digests;

/// <summary>
/// A team's calendar days in its time zone: a local date's UTC bounds (DST-aware: 23 or 25 hours on transition days),
/// and the local date of an instant. IANA ids only (<c>Europe/Berlin</c>), as the system's time zone database has them.
/// </summary>
public static class LocalDays
{
    public const string DefaultTimeZone = "UTC";

    public const int MaxTimeZoneLength = 64;

    /// <summary>The zone of <paramref name="id"/>, or a 400 naming <paramref name="field"/> when there is no such IANA zone.</summary>
    public static TimeZoneInfo FindZone(string? id, string field = "time_zone")
    {
        var text = id?.Trim();
        if (string.IsNullOrEmpty(text))
        {
            throw new DomainValidationException(field, "Required: an IANA time zone such as Europe/Berlin or UTC.");
        }

        if (text.Length > MaxTimeZoneLength)
        {
            throw new DomainValidationException(field, $"At most {MaxTimeZoneLength} characters: an IANA time zone such as Europe/Berlin.");
        }

        try
        {
            var zone = TimeZoneInfo.FindSystemTimeZoneById(text);
            // A Windows id (W. Europe Standard Time) resolves too on .NET with ICU; the stored id is the IANA one.
            return zone.HasIanaId ? zone : throw new TimeZoneNotFoundException();
        }
        catch (Exception e) when (e is TimeZoneNotFoundException or InvalidTimeZoneException)
        {
            throw new DomainValidationException(field, $"Unknown time zone '{text}': use an IANA name such as Europe/Berlin, America/New_York or UTC.");
        }
    }

    /// <summary>The local date in <paramref name="zone"/> at <paramref name="instant"/>.</summary>
    public static DateOnly DateAt(DateTimeOffset instant, TimeZoneInfo zone)
    {
        ArgumentNullException.ThrowIfNull(zone);
        return DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(instant, zone).DateTime);
    }

    /// <summary>The local time of day in <paramref name="zone"/> at <paramref name="instant"/>.</summary>
    public static TimeOnly TimeAt(DateTimeOffset instant, TimeZoneInfo zone)
    {
        ArgumentNullException.ThrowIfNull(zone);
        return TimeOnly.FromDateTime(TimeZoneInfo.ConvertTime(instant, zone).DateTime);
    }

    /// <summary>
    /// Which day's digest is due at <paramref name="now"/> for a team whose digest goes out at local <paramref name="time"/>:
    /// yesterday's (local), once today's <paramref name="time"/> has passed; null before it.
    /// </summary>
    public static DateOnly? DueDigestDate(DateTimeOffset now, TimeZoneInfo zone, TimeOnly time)
    {
        var today = DateAt(now, zone);
        return now >= Instant(today, time, zone) ? today.AddDays(-1) : null;
    }

    /// <summary>The first instant after <paramref name="now"/> at local <paramref name="time"/>: when the next digest is due.</summary>
    public static DateTimeOffset NextAt(DateTimeOffset now, TimeZoneInfo zone, TimeOnly time)
    {
        var today = DateAt(now, zone);
        var at = Instant(today, time, zone);
        return at > now ? at : Instant(today.AddDays(1), time, zone);
    }

    /// <summary>
    /// The UTC instants [From, To) of the local calendar day <paramref name="date"/> in <paramref name="zone"/>: from its
    /// first local instant to the next day's. Where midnight does not exist (a zone that springs forward at 00:00) the day
    /// starts when the clocks jump; where it happens twice, at the first.
    /// </summary>
    public static (DateTimeOffset From, DateTimeOffset To) Bounds(DateOnly date, TimeZoneInfo zone) =>
        (Instant(date, TimeOnly.MinValue, zone), Instant(date.AddDays(1), TimeOnly.MinValue, zone));

    /// <summary>
    /// The UTC instant of local <paramref name="date"/> at <paramref name="time"/> in <paramref name="zone"/>: a time the
    /// clocks skip is when they jump (02:30 on a spring-forward night is 03:00); a time they pass twice, the first.
    /// </summary>
    public static DateTimeOffset Instant(DateOnly date, TimeOnly time, TimeZoneInfo zone)
    {
        ArgumentNullException.ThrowIfNull(zone);
        var local = date.ToDateTime(time, DateTimeKind.Unspecified);
        // Spring-forward gaps are at most a few hours: the first valid local minute is the day's start.
        while (zone.IsInvalidTime(local))
        {
            local = local.AddMinutes(1);
        }

        // The first of two occurrences has the larger offset (summer time), hence the earlier UTC instant.
        var offset = zone.IsAmbiguousTime(local) ? zone.GetAmbiguousTimeOffsets(local).Max() : zone.GetUtcOffset(local);
        return new DateTimeOffset(local, offset).ToUniversalTime();
    }
}
