using EvalPlatform.Core.Common;
using EvalPlatform.Core.Digests;

namespace EvalPlatform.Tests.Unit.Digests;

/// <summary>
/// A team's local day in UTC: the bounds for UTC, a positive and a negative offset, and DST transition days (23 and 25
/// hours); when a digest is due; which time zones are accepted.
/// </summary>
public sealed class LocalDaysTests
{
    private static DateTimeOffset Utc(int y, int mo, int d, int h = 0, int mi = 0) => new(y, mo, d, h, mi, 0, TimeSpan.Zero);

    private static TimeZoneInfo Zone(string id) => LocalDays.FindZone(id);

    [Fact]
    public void Bounds_OfAUtcDay_AreItsMidnights()
    {
        var (from, to) = LocalDays.Bounds(new DateOnly(2026, 12, 6), Zone("UTC"));
        Assert.Equal((Utc(2026, 12, 6), Utc(2026, 12, 7)), (from, to));
    }

    [Fact]
    public void Bounds_WithAPositiveOffset_StartTheEveningBefore()
    {
        // Asia/Kolkata is UTC+05:30 all year.
        var (from, to) = LocalDays.Bounds(new DateOnly(2026, 12, 6), Zone("Asia/Kolkata"));
        Assert.Equal((Utc(2026, 12, 5, 18, 30), Utc(2026, 12, 6, 18, 30)), (from, to));
    }

    [Fact]
    public void Bounds_WithANegativeOffset_StartInTheMorning()
    {
        // New York in winter is UTC-05:00.
        var (from, to) = LocalDays.Bounds(new DateOnly(2026, 12, 6), Zone("America/New_York"));
        Assert.Equal((Utc(2026, 12, 6, 5), Utc(2026, 12, 7, 5)), (from, to));
        Assert.Equal(TimeSpan.FromHours(24), to - from);
    }

    [Fact]
    public void Bounds_OnBerlinsSpringForward_Are23Hours_AndOnItsFallBack25()
    {
        var berlin = Zone("Europe/Berlin");
        var (springFrom, springTo) = LocalDays.Bounds(new DateOnly(2026, 3, 29), berlin);
        Assert.Equal((Utc(2026, 3, 28, 23), Utc(2026, 3, 29, 22)), (springFrom, springTo));
        Assert.Equal(TimeSpan.FromHours(23), springTo - springFrom);

        var (fallFrom, fallTo) = LocalDays.Bounds(new DateOnly(2026, 10, 25), berlin);
        Assert.Equal((Utc(2026, 10, 24, 22), Utc(2026, 10, 25, 23)), (fallFrom, fallTo));
        Assert.Equal(TimeSpan.FromHours(25), fallTo - fallFrom);

        // Consecutive days tile: the day before ends where the transition day starts.
        Assert.Equal(springFrom, LocalDays.Bounds(new DateOnly(2026, 3, 28), berlin).To);
        Assert.Equal(fallTo, LocalDays.Bounds(new DateOnly(2026, 10, 26), berlin).From);
    }

    [Fact]
    public void Bounds_WhereMidnightIsSkipped_StartWhenTheClocksJump()
    {
        // Santiago springs forward at 00:00 (to 01:00) on the first Sunday of September: 6 September 2026 has no midnight.
        var santiago = Zone("America/Santiago");
        var (from, to) = LocalDays.Bounds(new DateOnly(2026, 9, 6), santiago);
        Assert.Equal(Utc(2026, 9, 6, 4), from);
        Assert.Equal(TimeSpan.FromHours(23), to - from);
    }

    [Fact]
    public void DueDigestDate_IsYesterday_OnceTheLocalTimeHasPassed()
    {
        var berlin = Zone("Europe/Berlin");
        var nine = new TimeOnly(9, 0);
        Assert.Null(LocalDays.DueDigestDate(Utc(2026, 12, 7, 7, 59), berlin, nine));
        Assert.Equal(new DateOnly(2026, 12, 6), LocalDays.DueDigestDate(Utc(2026, 12, 7, 8, 0), berlin, nine));
        Assert.Equal(new DateOnly(2026, 12, 6), LocalDays.DueDigestDate(Utc(2026, 12, 7, 22, 59), berlin, nine));
        // 23:30 UTC is already the 8th in Berlin, before nine: nothing due (the 6th's went out that morning).
        Assert.Null(LocalDays.DueDigestDate(Utc(2026, 12, 7, 23, 30), berlin, nine));

        // Behind UTC: 13:00 UTC is 08:00 in New York.
        var newYork = Zone("America/New_York");
        Assert.Null(LocalDays.DueDigestDate(Utc(2026, 12, 7, 13), newYork, nine));
        Assert.Equal(new DateOnly(2026, 12, 6), LocalDays.DueDigestDate(Utc(2026, 12, 7, 14), newYork, nine));
    }

    [Fact]
    public void ATimeTheClocksSkip_IsDueWhenTheyJump()
    {
        // 02:30 does not exist in Berlin on 29 March 2026: the digest goes at 03:00 local (01:00 UTC).
        var berlin = Zone("Europe/Berlin");
        var halfPastTwo = new TimeOnly(2, 30);
        Assert.Equal(Utc(2026, 3, 29, 1), LocalDays.Instant(new DateOnly(2026, 3, 29), halfPastTwo, berlin));
        Assert.Null(LocalDays.DueDigestDate(Utc(2026, 3, 29, 0, 59), berlin, halfPastTwo));
        Assert.Equal(new DateOnly(2026, 3, 28), LocalDays.DueDigestDate(Utc(2026, 3, 29, 1), berlin, halfPastTwo));
        Assert.Equal(Utc(2026, 3, 29, 1), LocalDays.NextAt(Utc(2026, 3, 28, 12), berlin, halfPastTwo));
    }

    [Theory]
    [InlineData("Mars/Olympus_Mons")]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData(null)]
    public void FindZone_RefusesWhatIsNotAnIanaZone_NamingTheField(string? id)
    {
        var e = Assert.Throws<DomainValidationException>(() => LocalDays.FindZone(id));
        Assert.Equal("time_zone", e.Field);
    }

    [Fact]
    public void FindZone_KeepsTheIanaId()
    {
        Assert.Equal("Europe/Berlin", LocalDays.FindZone(" Europe/Berlin ").Id);
        Assert.Equal("UTC", LocalDays.FindZone("UTC").Id);
    }

    [Theory]
    [InlineData("09:00", 9, 0)]
    [InlineData("7:05", 7, 5)]
    [InlineData(" 23:59 ", 23, 59)]
    [InlineData("08:30:00", 8, 30)]
    [InlineData("08:30:45.123", 8, 30)]
    public void ParseTime_ReadsHoursAndMinutes_DroppingSecondsABrowserAdds(string text, int hour, int minute) =>
        Assert.Equal(new TimeOnly(hour, minute), DigestService.ParseTime(text));

    [Theory]
    [InlineData("24:00")]
    [InlineData("9am")]
    [InlineData("")]
    [InlineData("12:60")]
    public void ParseTime_RefusesAnythingElse_NamingTheField(string text) =>
        Assert.Equal("time", Assert.Throws<DomainValidationException>(() => DigestService.ParseTime(text)).Field);
}
