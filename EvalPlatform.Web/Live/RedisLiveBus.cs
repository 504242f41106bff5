using System.Buffers;
using System.Text.Json;
using EvalPlatform.Core.Live;
using EvalPlatform.Web.Health;
using StackExchange.Redis;

namespace EvalPlatform.Web.Live;

/// <summary>
/// The live bus across nodes: events are published to one Redis channel and every node
/// (this one included) delivers what it receives to its own subscribers, exactly once.
/// </summary>
public sealed class RedisLiveBus : ILiveBus, IAsyncDisposable
{
    public static readonly RedisChannel Channel = RedisChannel.Literal("evalplatform:live");
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private const string Use = "live updates";

    private readonly IConnectionMultiplexer _redis;
    private readonly LiveDispatcher _dispatcher;
    private readonly ILogger<RedisLiveBus> _logger;
    private readonly RedisFallback _fallback;
    private readonly ChannelMessageQueue _subscription;

    public RedisLiveBus(IConnectionMultiplexer redis, LiveDispatcher dispatcher, RedisFallback fallback, ILogger<RedisLiveBus> logger)
    {
        _redis = redis;
        _dispatcher = dispatcher;
        _fallback = fallback;
        _logger = logger;
        _subscription = redis.GetSubscriber().Subscribe(Channel);
        _subscription.OnMessage(message => Receive(message.Message));
    }

    public async Task PublishAsync(LiveEvent liveEvent, CancellationToken ct = default)
    {
        // The envelope {"type":…,"body":…} written in one pass (this runs after every ingestion commit).
        var type = liveEvent.GetType().Name;
        var message = new ArrayBufferWriter<byte>(1024);
        using (var writer = new Utf8JsonWriter(message))
        {
            writer.WriteStartObject();
            writer.WriteString("type", type);
            writer.WritePropertyName("body");
            JsonSerializer.Serialize(writer, liveEvent, liveEvent.GetType(), Json);
            writer.WriteEndObject();
        }

        // The data is committed; while Redis is away this node's pages still hear it at once, other nodes' pages catch up
        // on their next load.
        if (!_fallback.IsConnected)
        {
            _fallback.FellBack(Use, null);
            _dispatcher.Deliver(liveEvent);
            return;
        }

        try
        {
            await _redis.GetSubscriber().PublishAsync(Channel, message.WrittenMemory);
            _fallback.Reached(Use);
        }
        catch (Exception e) when (RedisFallback.IsOutage(e))
        {
            _fallback.FellBack(Use, e);
            _dispatcher.Deliver(liveEvent);
        }
    }

    public IDisposable Subscribe(Guid teamId, Func<LiveEvent, Task> handler) => _dispatcher.Subscribe(teamId, handler);

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _subscription.UnsubscribeAsync();
        }
        catch (Exception e) when (e is ObjectDisposedException or RedisException)
        {
            // The connection went first (shutdown order): its subscriptions went with it.
        }
    }

    private void Receive(RedisValue message)
    {
        try
        {
            var envelope = JsonSerializer.Deserialize<Envelope>(message.ToString(), Json);
            LiveEvent? liveEvent = envelope?.Type switch
            {
                nameof(TracesIngested) => envelope.Body.Deserialize<TracesIngested>(Json),
                nameof(TraceUpdated) => envelope.Body.Deserialize<TraceUpdated>(Json),
                nameof(ApiKeyRevoked) => envelope.Body.Deserialize<ApiKeyRevoked>(Json),
                nameof(IngestionOriginsChanged) => envelope.Body.Deserialize<IngestionOriginsChanged>(Json),
                nameof(NotificationsChanged) => envelope.Body.Deserialize<NotificationsChanged>(Json),
                nameof(MembersChanged) => envelope.Body.Deserialize<MembersChanged>(Json),
                nameof(Core.Caching.CacheInvalidated) => envelope.Body.Deserialize<Core.Caching.CacheInvalidated>(Json),
                _ => null,
            };
            if (liveEvent is not null)
            {
                _dispatcher.Deliver(liveEvent);
            }
        }
        catch (JsonException e)
        {
            _logger.LogWarning(e, "Ignored a malformed live event from Redis");
        }
    }

    private sealed record Envelope(string Type, JsonElement Body);
}
