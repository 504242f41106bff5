using EvalPlatform.Core.Webhooks;
using StackExchange.Redis;

namespace EvalPlatform.Web.Security;

/// <summary>
/// The replay memory shared by every node: <c>SET key 1 NX PX remember</c>, atomic in Redis, so of two nodes receiving
/// the same copy at once exactly one accepts it. When Redis cannot be reached the call throws and the delivery fails
/// (a 500 today, nothing stored) rather than being let through unchecked: the sender retries. Failing open, as
/// ingestion rate limits will, was not chosen because a webhook sender's retries are cheap.
/// </summary>
public sealed class RedisWebhookReplayGuard(IConnectionMultiplexer redis) : IWebhookReplayGuard
{
    public async Task<bool> TryFirstUseAsync(string key, TimeSpan remember, CancellationToken ct = default) =>
        await redis.GetDatabase().StringSetAsync($"evalplatform:webhook-delivery:{key}", "1", remember, When.NotExists);
}
