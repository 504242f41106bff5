using System.Text.Json;
using System.Text.Json.Nodes;
using EvalPlatform.Core.Ingestion;
using EvalPlatform.Core.Tenancy;
using Microsoft.Extensions.Logging;

namespace EvalPlatform.Core.Providers.Proxy;

/// <summary>A proxied call to record: what it was, and the connection it used (none for a replay).</summary>
public sealed record ProxyCall(ProxyExchange Exchange, Guid? ConnectionId);

/// <summary>
/// Records proxied calls, after their answers went to the clients: the traces through the normal ingestion path (stored by
/// the group commit, live on open pages, counted in the issue log as the <c>proxy</c> door), then the connections' usage
/// rows with the traces' ids, the API key and the end user. Exactly one trace per call: the forwarder hands each call over
/// once, in a <c>finally</c>, whatever became of the answer; the background writer records the calls of one key together.
/// </summary>
public sealed partial class ProxyRecorder(TraceIngestionService ingestion, IProviderUsage usage, ITeamContext team, TimeProvider clock, ILogger<ProxyRecorder> logger)
{
    public async Task<Guid?> RecordAsync(ProxyExchange exchange, Guid? connectionId, CancellationToken ct) =>
        (await RecordAsync([new ProxyCall(exchange, connectionId)], ct))[0];

    /// <summary>Records <paramref name="calls"/> (all of the current team and key) together; the stored traces' ids, in order.</summary>
    public async Task<IReadOnlyList<Guid?>> RecordAsync(IReadOnlyList<ProxyCall> calls, CancellationToken ct)
    {
        var traces = calls.Select(c => ProxyTraceBuilder.Build(c.Exchange)).ToList();
        var ids = new Guid?[calls.Count];
        var again = new List<int>();
        foreach (var item in (await ingestion.IngestProxyAsync(traces.Select(t => JsonSerializer.SerializeToElement(t)).ToList(), ct)).Items)
        {
            if (item.Status == ItemStatus.Conflict && traces[item.Index]["external_id"] is { } externalId)
            {
                // The caller's external id names another trace already: the call is still recorded, without it (the id kept in metadata).
                traces[item.Index].Remove("external_id");
                ((JsonObject)traces[item.Index]["metadata"]!)["requested_external_id"] = externalId.DeepClone();
                again.Add(item.Index);
                continue;
            }

            ids[item.Index] = Stored(item);
        }

        if (again.Count > 0)
        {
            try
            {
                foreach (var item in (await ingestion.IngestProxyAsync(again.Select(i => JsonSerializer.SerializeToElement(traces[i])).ToList(), ct)).Items)
                {
                    ids[again[item.Index]] = Stored(item);
                }
            }
            catch (IngestionOverloadedException)
            {
                // The other calls' traces are stored already: letting this escape would have the whole batch tried again and
                // stored twice. Only an overload that stored nothing leaves this method (the writer then tries again).
                LogNotStored(logger, $"{again.Count} trace(s) whose external id was taken met a full ingestion queue on the second try");
            }
        }

        var rows = new List<ProviderCall>(calls.Count);
        for (var i = 0; i < calls.Count; i++)
        {
            if (calls[i].ConnectionId is not { } connection)
            {
                continue;
            }

            var exchange = calls[i].Exchange;
            var answer = exchange.Answer;
            var model = answer?.Model ?? ProxyWire.Str(exchange.Request, "model");
            rows.Add(new ProviderCall
            {
                Id = Common.Uuid7.Create(clock.GetUtcNow()),
                ConnectionId = connection,
                Source = ProviderCallSource.Proxy,
                At = exchange.StartedAt,
                Model = model,
                InputTokens = answer?.InputTokens,
                OutputTokens = answer?.OutputTokens,
                Cost = Traces.ModelPrices.Compute(model, answer?.InputTokens, answer?.OutputTokens),
                LatencyMs = exchange.LatencyMs,
                TimeToFirstTokenMs = exchange.TimeToFirstTokenMs,
                Status = exchange.Status,
                IsError = exchange.Error is not null,
                TraceId = ids[i],
                ApiKeyId = team.ApiKeyId,
                EndUser = exchange.Caller.User,
            });
        }

        if (rows.Count > 0)
        {
            await usage.RecordAsync(rows, ct);
        }

        return ids;
    }

    private Guid? Stored(ItemOutcome item)
    {
        if (!item.IsStored)
        {
            LogNotStored(logger, string.Join("; ", item.Errors.Select(e => $"{e.Field}: {e.Message}")));
        }

        return item.Id;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "A proxied call's trace was not stored: {Reasons}")]
    private static partial void LogNotStored(ILogger logger, string reasons);
}
