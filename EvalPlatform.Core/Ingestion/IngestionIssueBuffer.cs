using System.Security.Cryptography;
using System.Text;

namespace EvalPlatform.Core.Ingestion;

/// <summary>One distinct issue of one team in one hour, with how often it was seen (a row to be, or part of one).</summary>
public sealed class BufferedIssue
{
    public required Guid TeamId { get; init; }
    public required DateTimeOffset Hour { get; init; }
    public required IngestionDoor Door { get; init; }
    public required IngestionIssueKind Kind { get; init; }
    public required string Field { get; init; }
    public required string Reason { get; init; }
    public string? TraceKey { get; init; }
    public string? SpanKey { get; init; }
    public required string GroupKey { get; init; }
    public int Count { get; set; }
    public DateTimeOffset FirstSeenAt { get; set; }
    public DateTimeOffset LastSeenAt { get; set; }

    /// <summary>
    /// What this issue is counted as once its team's hour holds <see cref="IngestionIssueLimits.MaxRowsPerTeamHour"/>
    /// rows: first the same issue without trace and span ids, then one catch-all row per door and kind (which folds into itself).
    /// </summary>
    public BufferedIssue Folded()
    {
        var (field, reason) = TraceKey is null && SpanKey is null
            ? (IngestionIssueBuffer.CatchAllField, IngestionIssueBuffer.CatchAllReason)
            : (Field, Reason);
        return new BufferedIssue
        {
            TeamId = TeamId, Hour = Hour, Door = Door, Kind = Kind, Field = field, Reason = reason,
            GroupKey = IngestionIssueBuffer.GroupKeyOf(Door, Kind, field, reason, null, null),
            Count = Count, FirstSeenAt = FirstSeenAt, LastSeenAt = LastSeenAt,
        };
    }

    /// <summary>True for the catch-all row (it is never folded further, so a team-hour holds at most the cap plus one per door and kind).</summary>
    public bool IsCatchAll => TraceKey is null && SpanKey is null && Field == IngestionIssueBuffer.CatchAllField;

    public BufferedIssue Copy() => (BufferedIssue)MemberwiseClone();

    internal void Absorb(BufferedIssue other)
    {
        Count = (int)Math.Min(int.MaxValue, (long)Count + other.Count);
        FirstSeenAt = other.FirstSeenAt < FirstSeenAt ? other.FirstSeenAt : FirstSeenAt;
        LastSeenAt = other.LastSeenAt > LastSeenAt ? other.LastSeenAt : LastSeenAt;
    }
}

/// <summary>
/// The in-memory half of the ingestion issue log: counts issues per team, hour and group key between
/// flushes. Bounded twice: at most <see cref="MaxEntries"/> distinct entries (past it, issues are dropped
/// and counted in <see cref="Dropped"/>), and per team and hour at most <see cref="MaxRowsPerTeamHour"/>
/// entries before issues fold (<see cref="BufferedIssue.Folded"/>), so one team's flood cannot crowd out the others.
/// One short lock per <see cref="Record"/> call; hashing and cutting happen outside it.
/// </summary>
public sealed class IngestionIssueBuffer(int maxEntries = IngestionIssueLimits.MaxBuffered, int maxRowsPerTeamHour = IngestionIssueLimits.MaxRowsPerTeamHour)
{
    /// <summary>The field of the catch-all row an hour's overflow is counted in.</summary>
    public const string CatchAllField = "*";

    public static readonly string CatchAllReason =
        $"More distinct issues than the log keeps for one team in one hour ({IngestionIssueLimits.MaxRowsPerTeamHour:N0}); the rest of the hour is counted here.";

    private readonly Lock _gate = new();
    private Dictionary<(Guid Team, DateTimeOffset Hour, string GroupKey), BufferedIssue> _entries = [];
    private Dictionary<(Guid Team, DateTimeOffset Hour), int> _perTeamHour = [];
    private long _dropped;

    public int MaxEntries => maxEntries;

    public int MaxRowsPerTeamHour => maxRowsPerTeamHour;

    /// <summary>Issues dropped because the buffer was full, since the last <see cref="TakeDropped"/>.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _entries.Count;
            }
        }
    }

    /// <summary>Counts the issues at <paramref name="now"/>; never throws for what a client sent (lengths are cut).</summary>
    public void Record(Guid teamId, IngestionDoor door, IReadOnlyCollection<IngestionIssueReport> issues, DateTimeOffset now)
    {
        if (issues.Count == 0)
        {
            return;
        }

        // Whole microseconds: what PostgreSQL keeps, so a cursor made from a stored time finds it again.
        now = new DateTimeOffset(now.UtcTicks - (now.UtcTicks % 10), TimeSpan.Zero);
        var hour = new DateTimeOffset(now.Year, now.Month, now.Day, now.Hour, 0, 0, TimeSpan.Zero);
        var prepared = new List<BufferedIssue>(issues.Count);
        foreach (var issue in issues)
        {
            if (issue is null)
            {
                continue;
            }

            var field = Cut(string.IsNullOrWhiteSpace(issue.Field) ? "(none)" : issue.Field, IngestionIssueLimits.MaxField);
            var reason = Cut(string.IsNullOrWhiteSpace(issue.Reason) ? "(no reason given)" : issue.Reason, IngestionIssueLimits.MaxReason);
            var trace = CutOrNull(issue.TraceKey, IngestionLimits.MaxShortText);
            var span = CutOrNull(issue.SpanKey, IngestionLimits.MaxShortText);
            prepared.Add(new BufferedIssue
            {
                TeamId = teamId, Hour = hour, Door = door, Kind = issue.Kind, Field = field, Reason = reason, TraceKey = trace, SpanKey = span,
                GroupKey = GroupKeyOf(door, issue.Kind, field, reason, trace, span), Count = 1, FirstSeenAt = now, LastSeenAt = now,
            });
        }

        lock (_gate)
        {
            foreach (var issue in prepared)
            {
                AddLocked(issue);
            }
        }
    }

    /// <summary>Takes everything buffered (the buffer starts empty again).</summary>
    public IReadOnlyList<BufferedIssue> TakeAll()
    {
        Dictionary<(Guid, DateTimeOffset, string), BufferedIssue> taken;
        lock (_gate)
        {
            taken = _entries;
            _entries = [];
            _perTeamHour = [];
        }

        return taken.Values.ToList();
    }

    /// <summary>Puts back what a failed flush took, merged with what arrived since; still bounded (the excess is dropped and counted).</summary>
    public void Restore(IEnumerable<BufferedIssue> entries)
    {
        lock (_gate)
        {
            foreach (var entry in entries)
            {
                AddLocked(entry.Copy());
            }
        }
    }

    /// <summary>How many issues were dropped since the last call, and resets it (the writer logs it as a warning).</summary>
    public long TakeDropped() => Interlocked.Exchange(ref _dropped, 0);

    internal void CountDropped(long count) => Interlocked.Add(ref _dropped, count);

    private void AddLocked(BufferedIssue issue)
    {
        while (true)
        {
            if (_entries.TryGetValue((issue.TeamId, issue.Hour, issue.GroupKey), out var existing))
            {
                existing.Absorb(issue);
                return;
            }

            var teamHour = (issue.TeamId, issue.Hour);
            var rows = _perTeamHour.GetValueOrDefault(teamHour);
            if (rows >= maxRowsPerTeamHour && !issue.IsCatchAll)
            {
                issue = issue.Folded();
                continue;
            }

            if (_entries.Count >= maxEntries)
            {
                Interlocked.Add(ref _dropped, issue.Count);
                return;
            }

            _entries[(issue.TeamId, issue.Hour, issue.GroupKey)] = issue;
            _perTeamHour[teamHour] = rows + 1;
            return;
        }
    }

    /// <summary>
    /// The row's identity within its team and hour: SHA-256 (lower-case hex, 64 characters) of door, kind,
    /// field, reason, trace key and span key, each length-prefixed so no two different tuples share an input.
    /// Stable across nodes and versions: rows of every node upsert into one.
    /// </summary>
    public static string GroupKeyOf(IngestionDoor door, IngestionIssueKind kind, string field, string reason, string? traceKey, string? spanKey)
    {
        var text = new StringBuilder(64 + field.Length + reason.Length + (traceKey?.Length ?? 0) + (spanKey?.Length ?? 0));
        text.Append((int)door).Append('|').Append((int)kind);
        foreach (var part in new[] { field, reason, traceKey, spanKey })
        {
            // -1 for null keeps "no trace id" apart from an empty one.
            text.Append('|').Append(part?.Length ?? -1).Append(':').Append(part);
        }

        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }

    /// <summary>Cuts to at most <paramref name="max"/> characters, ending in "…" when cut, never inside a surrogate pair.</summary>
    public static string Cut(string value, int max)
    {
        if (value.Length <= max)
        {
            return value;
        }

        var keep = max - 1;
        if (char.IsHighSurrogate(value[keep - 1]))
        {
            keep--;
        }

        return string.Concat(value.AsSpan(0, keep), "…");
    }

    private static string? CutOrNull(string? value, int max) => string.IsNullOrEmpty(value) ? null : Cut(value, max);
}
