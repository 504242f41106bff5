using System.Globalization;

namespace EvalPlatform.Core.LangSmith;

/// <summary>One segment of a LangSmith <c>dotted_order</c>: the run's start time and its id.</summary>
public sealed record DottedSegment(DateTimeOffset Time, string RunId);

/// <summary>
/// LangSmith's <c>dotted_order</c>: segments <c>strftime('%Y%m%dT%H%M%S%fZ') + run_uuid</c> joined with
/// <c>.</c> from the root down to the run itself. So the first segment's id is the trace id, the last
/// one the run's own id, and the penultimate one the parent's.
/// </summary>
public static class DottedOrder
{
    /// <summary>Parses every segment; null with <paramref name="problem"/> set when any segment is malformed.</summary>
    public static IReadOnlyList<DottedSegment>? Parse(string value, out string? problem)
    {
        problem = null;
        var segments = new List<DottedSegment>();
        foreach (var (text, index) in value.Split('.').Select((s, i) => (s, i)))
        {
            var z = text.IndexOf('Z', StringComparison.Ordinal);
            if (z < 0 || !TryTime(text[..z], out var time) || !Guid.TryParse(text[(z + 1)..], out var id))
            {
                problem = $"Segment {index + 1} ('{(text.Length > 60 ? text[..60] + "…" : text)}') is not <yyyyMMddTHHmmssffffff>Z<run uuid>.";
                return null;
            }

            segments.Add(new DottedSegment(time, id.ToString("D")));
        }

        return segments;
    }

    /// <summary><c>20260820T100000120000</c>: date, <c>T</c>, time to the second, then any fraction digits.</summary>
    private static bool TryTime(string text, out DateTimeOffset time)
    {
        time = default;
        if (text.Length < 15 || text[8] != 'T' || !text.Where((c, i) => i != 8).All(char.IsAsciiDigit))
        {
            return false;
        }

        if (!DateTime.TryParseExact(text[..15], "yyyyMMdd'T'HHmmss", CultureInfo.InvariantCulture,
                DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var seconds))
        {
            return false;
        }

        var fraction = text[15..];
        var ticks = fraction.Length == 0 ? 0 : long.Parse(fraction.PadRight(7, '0')[..7], CultureInfo.InvariantCulture);
        time = new DateTimeOffset(DateTime.SpecifyKind(seconds, DateTimeKind.Utc)).AddTicks(ticks);
        return true;
    }
}
