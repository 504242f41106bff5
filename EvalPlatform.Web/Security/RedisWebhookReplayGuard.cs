using EvalPlatform.Core.Webhooks;
using EvalPlatform.Web.Health;
using StackExchange.Redis;

namespace EvalPlatform.Web.Security;

/// <summary>
/// The replay memory shared by every node: <c>SET key 1 NX PX remember</c>, atomic in Redis, so of two nodes receiving
/// the same copy at once exactly one accepts it. While Redis is away this node remembers deliveries itself
/// (<see cref="InProcessWebhookReplayGuard"/>), so webhooks keep being ingested and a copy sent to the same node is still
/// refused; a copy sent to another node during the outage is not caught (ADR 35, amended by ADR 43).
/// </summary>
public sealed class RedisWebhookReplayGuard(IConnectionMultiplexer redis, RedisFallback fallback, InProcessWebhookReplayGuard local) : IWebhookReplayGuard
{
    private const string Use = "webhook replay checks";

    public async Task<bool> TryFirstUseAsync(string key, TimeSpan remember, CancellationToken ct = default)
    {
        if (!fallback.IsConnected)
        {
            fallback.FellBack(Use, null);
            return await local.TryFirstUseAsync(key, remember, ct);
        }

        try
        {
            var first = await redis.GetDatabase().StringSetAsync($"evalplatform:webhook-delivery:{key}", "1", remember, When.NotExists);
            fallback.Reached(Use);
            return first;
        }
        catch (Exception e) when (RedisFallback.IsOutage(e))
        {
            fallback.FellBack(Use, e);
            return await local.TryFirstUseAsync(key, remember, ct);
        }
    }
}
