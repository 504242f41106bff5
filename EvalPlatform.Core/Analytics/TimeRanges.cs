using System.Linq.Expressions;

namespace EvalPlatform.Core.Analytics;

/// <summary>Half-open time ranges [From, To), and the query predicate "the time lies in one of them".</summary>
public static class TimeRanges
{
    /// <summary>Buckets of <paramref name="width"/> starting at <paramref name="starts"/>, adjacent ones merged, in order.</summary>
    public static IReadOnlyList<(DateTimeOffset From, DateTimeOffset To)> Merge(IEnumerable<DateTimeOffset> starts, TimeSpan width)
    {
        var ranges = new List<(DateTimeOffset From, DateTimeOffset To)>();
        foreach (var start in starts.Distinct().Order())
        {
            if (ranges.Count > 0 && ranges[^1].To >= start)
            {
                ranges[^1] = (ranges[^1].From, Max(ranges[^1].To, start + width));
            }
            else
            {
                ranges.Add((start, start + width));
            }
        }

        return ranges;
    }

    /// <summary>Ranges merged where they touch or overlap, in order.</summary>
    public static IReadOnlyList<(DateTimeOffset From, DateTimeOffset To)> Merge(IEnumerable<(DateTimeOffset From, DateTimeOffset To)> ranges)
    {
        var merged = new List<(DateTimeOffset From, DateTimeOffset To)>();
        foreach (var range in ranges.Where(r => r.To > r.From).OrderBy(r => r.From))
        {
            if (merged.Count > 0 && merged[^1].To >= range.From)
            {
                merged[^1] = (merged[^1].From, Max(merged[^1].To, range.To));
            }
            else
            {
                merged.Add(range);
            }
        }

        return merged;
    }

    /// <summary>
    /// <c>x =&gt; (time(x) &gt;= from1 &amp;&amp; time(x) &lt; to1) || …</c>, the bounds as query parameters; false for no ranges.
    /// </summary>
    public static Expression<Func<T, bool>> Within<T>(Expression<Func<T, DateTimeOffset>> time, IReadOnlyList<(DateTimeOffset From, DateTimeOffset To)> ranges)
    {
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(ranges);
        Expression? body = null;
        foreach (var (from, to) in ranges)
        {
            var range = Expression.AndAlso(
                Expression.GreaterThanOrEqual(time.Body, Parameter(from)),
                Expression.LessThan(time.Body, Parameter(to)));
            body = body is null ? range : Expression.OrElse(body, range);
        }

        return Expression.Lambda<Func<T, bool>>(body ?? Expression.Constant(false), time.Parameters);
    }

    private static DateTimeOffset Max(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;

    // A captured member, which EF sends as a parameter (a literal per value would defeat the query plan cache).
    private static MemberExpression Parameter(DateTimeOffset value) =>
        Expression.Property(Expression.Constant(new Box(value)), nameof(Box.Value));

    private sealed class Box(DateTimeOffset value)
    {
        public DateTimeOffset Value { get; } = value;
    }
}
