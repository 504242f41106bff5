using System.Collections.Frozen;
using EvalPlatform.Core.Live;

namespace EvalPlatform.Core.Teams;

/// <summary>Every team's browser origins at one moment, by origin: what a preflight (which carries no key) and a request are checked against.</summary>
public sealed class IngestionOriginSnapshot
{
    public static readonly IngestionOriginSnapshot Empty = new(FrozenDictionary<string, FrozenSet<Guid>>.Empty, DateTimeOffset.MinValue);

    private readonly FrozenDictionary<string, FrozenSet<Guid>> _teamsByOrigin;

    private IngestionOriginSnapshot(FrozenDictionary<string, FrozenSet<Guid>> teamsByOrigin, DateTimeOffset loadedAt)
    {
        _teamsByOrigin = teamsByOrigin;
        LoadedAt = loadedAt;
    }

    public DateTimeOffset LoadedAt { get; }

    /// <summary>The distinct origins of all teams.</summary>
    public int Count => _teamsByOrigin.Count;

    /// <summary>Some team lists <paramref name="origin"/> (normal form): enough for a preflight.</summary>
    public bool AllowsAnyTeam(string origin) => _teamsByOrigin.ContainsKey(origin);

    /// <summary>The team <paramref name="teamId"/> lists <paramref name="origin"/> (normal form): what a request with that team's key needs.</summary>
    public bool Allows(string origin, Guid teamId) => _teamsByOrigin.TryGetValue(origin, out var teams) && teams.Contains(teamId);

    /// <summary>Stored lists are normal already (the service writes them so); they are normalised again in case one was edited by hand.</summary>
    public static IngestionOriginSnapshot Build(IEnumerable<(Guid TeamId, IEnumerable<string> Origins)> teams, DateTimeOffset loadedAt)
    {
        var byOrigin = new Dictionary<string, HashSet<Guid>>(StringComparer.Ordinal);
        foreach (var (teamId, origins) in teams)
        {
            foreach (var text in origins)
            {
                if (IngestionOrigin.TryNormalize(text, out var origin, out _))
                {
                    if (!byOrigin.TryGetValue(origin, out var set))
                    {
                        byOrigin[origin] = set = [];
                    }

                    set.Add(teamId);
                }
            }
        }

        return new IngestionOriginSnapshot(byOrigin.ToFrozenDictionary(p => p.Key, p => p.Value.ToFrozenSet(), StringComparer.Ordinal), loadedAt);
    }
}

/// <summary>
/// This node's copy of every team's browser origins, so that neither a preflight nor a browser's request queries the database
/// (a few teams with a handful of origins each: the whole set is small). A change evicts the copy at once on the node that made
/// it and, through <see cref="IngestionOriginsChanged"/> on the live bus, on every other node; if that broadcast is lost, the
/// copy still expires after <see cref="Lifetime"/>. The loading itself is <see cref="IngestionOriginService.GetSnapshotAsync"/>'s.
/// </summary>
public sealed class IngestionOriginCache
{
    /// <summary>How long a copy is trusted without asking the database again (as <see cref="ApiKeyCache.Lifetime"/>).</summary>
    public static readonly TimeSpan Lifetime = TimeSpan.FromSeconds(30);

    private readonly Lock _lock = new();
    private IngestionOriginSnapshot? _snapshot;
    private long _generation;

    public IngestionOriginCache(LiveDispatcher dispatcher)
    {
        dispatcher.Observe(e =>
        {
            if (e is IngestionOriginsChanged)
            {
                Invalidate();
            }
        });
    }

    /// <summary>Counts evictions: a load that started before one must not store what it read (it may predate the change).</summary>
    public long Generation => Interlocked.Read(ref _generation);

    public bool TryGet(DateTimeOffset now, out IngestionOriginSnapshot snapshot)
    {
        var current = Volatile.Read(ref _snapshot);
        if (current is not null && now - current.LoadedAt < Lifetime && now >= current.LoadedAt)
        {
            snapshot = current;
            return true;
        }

        snapshot = IngestionOriginSnapshot.Empty;
        return false;
    }

    /// <summary>Keeps <paramref name="snapshot"/> unless the origins changed since its load began (<paramref name="generation"/>).</summary>
    public void Set(IngestionOriginSnapshot snapshot, long generation)
    {
        lock (_lock)
        {
            if (_generation == generation)
            {
                Volatile.Write(ref _snapshot, snapshot);
            }
        }
    }

    public void Invalidate()
    {
        lock (_lock)
        {
            Interlocked.Increment(ref _generation);
            Volatile.Write(ref _snapshot, null);
        }
    }
}
