using System.Collections.Concurrent;
using EvalPlatform.Core.Caching;
using EvalPlatform.Core.Live;
using Microsoft.Extensions.Options;

namespace EvalPlatform.Core.Teams;

/// <summary>
/// What the authenticator knows of a key, by prefix, for <see cref="Lifetime"/>: every API
/// request then costs a hash comparison, not a database query. Only keys that exist are kept
/// (unknown prefixes are never cached, so guessing cannot fill memory). A revocation evicts the
/// key at once on the node that revoked it and, through <see cref="ApiKeyRevoked"/> on the live
/// bus, on every other node; if that broadcast is lost, the entry still expires.
/// </summary>
public sealed class ApiKeyCache
{
    /// <summary>How long an entry is trusted without asking the database again.</summary>
    public static readonly TimeSpan Lifetime = TimeSpan.FromSeconds(30);

    /// <summary>Keeps the dictionary bounded even with many keys in use.</summary>
    public const int MaxEntries = 10_000;

    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    /// <summary>The cache's name in the cache metrics.</summary>
    public const string MetricName = "api_keys";

    private readonly Observability.EvalMetrics? _metrics;
    private readonly IOptionsMonitor<SettingsCacheOptions>? _options;

    public ApiKeyCache(LiveDispatcher dispatcher, Observability.EvalMetrics? metrics = null, IOptionsMonitor<SettingsCacheOptions>? options = null)
    {
        _metrics = metrics;
        _options = options;
        dispatcher.Observe(e =>
        {
            if (e is ApiKeyRevoked revoked)
            {
                Evict(revoked.Prefix);
            }
        });
    }

    public bool TryGet(string prefix, DateTimeOffset now, out Entry entry)
    {
        // Off (SettingsCacheOptions): every check reads the key again; Set keeps nothing.
        if (_options?.CurrentValue.Enabled != false && _entries.TryGetValue(prefix, out entry!) && now - entry.LoadedAt < Lifetime)
        {
            _metrics?.CacheRead(MetricName, hit: true);
            return true;
        }

        _metrics?.CacheRead(MetricName, hit: false);
        entry = null!;
        return false;
    }

    public void Set(string prefix, Entry entry)
    {
        if (_options?.CurrentValue.Enabled == false)
        {
            return;
        }

        if (_entries.Count >= MaxEntries)
        {
            _entries.Clear();
        }

        _entries[prefix] = entry;
    }

    public void Evict(string prefix)
    {
        if (_entries.TryRemove(prefix, out _))
        {
            _metrics?.CacheInvalidated(MetricName);
        }
    }

    /// <summary>A key as last read, with the last time this node recorded its use.</summary>
    public sealed class Entry(Guid keyId, Guid teamId, string teamName, ApiKeyScopes scopes, byte[] hash, bool revoked, DateTimeOffset? lastUsedAt, DateTimeOffset loadedAt)
    {
        private long _lastUsedTicks = lastUsedAt?.UtcTicks ?? 0;

        public Guid KeyId { get; } = keyId;
        public Guid TeamId { get; } = teamId;
        public string TeamName { get; } = teamName;
        public ApiKeyScopes Scopes { get; } = scopes;
        public byte[] Hash { get; } = hash;
        public bool Revoked { get; } = revoked;
        public DateTimeOffset LoadedAt { get; } = loadedAt;

        /// <summary>True once per <paramref name="resolution"/>: the caller should record the use.</summary>
        public bool ShouldRecordUse(DateTimeOffset now, TimeSpan resolution)
        {
            var last = Interlocked.Read(ref _lastUsedTicks);
            return now.UtcTicks - last >= resolution.Ticks
                && Interlocked.CompareExchange(ref _lastUsedTicks, now.UtcTicks, last) == last;
        }
    }
}
