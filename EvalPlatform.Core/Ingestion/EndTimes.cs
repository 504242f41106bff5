using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using EvalPlatform.Core.Common;

namespace EvalPlatform.Core.Ingestion;

/// <summary>
/// The one rule for an end before its start, on every door (ADR 12): an end up to
/// <see cref="IngestionLimits.MaxEndBeforeStart"/> before its start is stored as zero length, the client's
/// end kept under <see cref="OriginalEndAttribute"/> and the reason under <see cref="AdjustmentAttribute"/>
/// (in a span's attributes, or a trace's metadata), and reported as adjusted; further apart, the item is refused.
/// </summary>
public static class EndTimes
{
    /// <summary>The key that keeps an end time as the client sent it, when it was moved up to the start.</summary>
    public const string OriginalEndAttribute = "evalplatform.original_end_time";

    /// <summary>The key that says why the times were adjusted.</summary>
    public const string AdjustmentAttribute = "evalplatform.adjustment";

    /// <summary>Why an end too far before its start is refused; null when the end is not before the start by more than the tolerance.</summary>
    public static string? Refusal(DateTimeOffset start, DateTimeOffset end) =>
        start - end > IngestionLimits.MaxEndBeforeStart
            ? $"end_time is {Describe(start - end)} before start_time; an end up to {Describe(IngestionLimits.MaxEndBeforeStart)} before its start is stored as a zero-length span, a larger gap is refused."
            : null;

    /// <summary>
    /// Keeps <paramref name="end"/> (which lies <paramref name="gap"/> before the start) in the JSON object
    /// <paramref name="json"/> (null: a new object) and says why. <paramref name="item"/> and <paramref name="where"/>
    /// name what was made zero-length and where the original went ("span", "attribute").
    /// </summary>
    public static (string Json, string Reason) KeepOriginal(string? json, DateTimeOffset end, TimeSpan gap, string item = "span", string where = "attribute")
    {
        var reason = $"end_time was {Describe(gap)} before start_time; stored as a zero-length {item} (the original is in the {item}'s '{OriginalEndAttribute}' {where}).";
        var kept = new JsonObject
        {
            [OriginalEndAttribute] = end.ToString("O", CultureInfo.InvariantCulture),
            [AdjustmentAttribute] = reason,
        }.ToJsonString();
        return (StoredJson.MergeObjects(json, kept), reason);
    }

    /// <summary>Whether <paramref name="json"/> already keeps <paramref name="end"/> as the original end (a retry changes nothing).</summary>
    public static bool IsKeptOriginal(string? json, DateTimeOffset end) =>
        json is not null && json.Contains(OriginalEndAttribute, StringComparison.Ordinal)
        && StoredJson.TryParse(json) is { ValueKind: JsonValueKind.Object } parsed
        && parsed.TryGetProperty(OriginalEndAttribute, out var original) && original.ValueKind == JsonValueKind.String
        && original.GetString() == end.ToString("O", CultureInfo.InvariantCulture);

    /// <summary>A gap as a person reads it: 3 µs, 12.5 ms, 4.2 s, 3 h 5 min.</summary>
    public static string Describe(TimeSpan gap) => gap.Ticks switch
    {
        < TimeSpan.TicksPerMillisecond => $"{gap.Ticks / 10.0:0.#} µs",
        < TimeSpan.TicksPerSecond => $"{gap.TotalMilliseconds:0.#} ms",
        < TimeSpan.TicksPerMinute => $"{gap.TotalSeconds:0.#} s",
        < TimeSpan.TicksPerHour => $"{gap.TotalMinutes:0.#} min",
        _ => $"{(long)gap.TotalHours} h {gap.Minutes} min",
    };
}
