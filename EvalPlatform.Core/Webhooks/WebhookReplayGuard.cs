using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;

namespace EvalPlatform.Core.Webhooks;

/// <summary>
/// Refuses a signed inbound delivery seen before: the same team, timestamp, path and body within the signature's
/// window (<see cref="WebhookSignature.Tolerance"/> either way). A sender's retry signs anew (a new timestamp) and is
/// answered as any retry (by external id); an eavesdropper's copy is refused (ADR 35). Shared through Redis when it is
/// configured, so a copy sent to another node is refused as well; in this process otherwise (one node).
/// </summary>
public interface IWebhookReplayGuard
{
    /// <summary>True the first time this delivery is seen (and remembers it until its timestamp leaves the window).</summary>
    Task<bool> TryFirstUseAsync(string key, TimeSpan remember, CancellationToken ct = default);
}

/// <summary>The key and how long to remember one delivery.</summary>
public static class WebhookReplay
{
    /// <summary>A digest of what the signature covers: a copy has the same one, a re-signed retry does not.</summary>
    public static string Key(Guid teamId, long timestamp, string path, ReadOnlySpan<byte> body)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData(Encoding.UTF8.GetBytes($"{teamId:N}.{timestamp}.{path}."));
        sha.AppendData(body);
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    /// <summary>Until the timestamp is outside the window for good, and a minute's margin for clocks.</summary>
    public static TimeSpan Remember(long timestamp, DateTimeOffset now) =>
        DateTimeOffset.FromUnixTimeSeconds(timestamp) + WebhookSignature.Tolerance + TimeSpan.FromMinutes(1) - now is { } left && left > TimeSpan.Zero
            ? left
            : TimeSpan.FromMinutes(1);
}

/// <summary>One node's memory of recent deliveries; expired entries are swept as new ones arrive.</summary>
public sealed class InProcessWebhookReplayGuard(TimeProvider clock) : IWebhookReplayGuard
{
    private readonly ConcurrentDictionary<string, DateTimeOffset> _seen = new(StringComparer.Ordinal);
    private int _added;

    public Task<bool> TryFirstUseAsync(string key, TimeSpan remember, CancellationToken ct = default)
    {
        var now = clock.GetUtcNow();
        var until = now + remember;
        if (Interlocked.Increment(ref _added) % 1024 == 0)
        {
            foreach (var (k, expires) in _seen)
            {
                if (expires <= now)
                {
                    _seen.TryRemove(new KeyValuePair<string, DateTimeOffset>(k, expires));
                }
            }
        }

        while (true)
        {
            if (_seen.TryAdd(key, until))
            {
                return Task.FromResult(true);
            }

            if (!_seen.TryGetValue(key, out var expires))
            {
                continue;
            }

            if (expires > now)
            {
                return Task.FromResult(false);
            }

            if (_seen.TryUpdate(key, until, expires))
            {
                return Task.FromResult(true);
            }
        }
    }
}
