using System.Text.Json;
using System.Text.Json.Nodes;
using EvalPlatform.Core.Ingestion;
using EvalPlatform.Core.Tenancy;
using Microsoft.Extensions.Logging;

namespace EvalPlatform.Core.Providers.Proxy;

/// <summary>
/// Records one proxied call, after its answer went to the client: the trace through the normal ingestion path (stored by the
/// group commit, live on open pages, counted in the issue log as the <c>proxy</c> door), then the connection's usage row
/// with the trace's id, the API key and the end user. Exactly one trace per call: the endpoint calls this once, in a
/// <c>finally</c>, whatever became of the answer.
/// </summary>
public sealed partial class ProxyRecorder(TraceIngestionService ingestion, IProviderUsage usage, ITeamContext team, TimeProvider clock, ILogger<ProxyRecorder> logger)
{
    public async Task<Guid?> RecordAsync(ProxyExchange exchange, Guid? connectionId, CancellationToken ct)
    {
        var trace = ProxyTraceBuilder.Build(exchange);
        var outcome = await ingestion.IngestProxyAsync(JsonSerializer.SerializeToElement(trace), ct);
        var item = outcome.Items[0];
        if (item.Status == ItemStatus.Conflict && trace["external_id"] is { } externalId)
        {
            // The caller's external id names another trace already: the call is still recorded, without it (the id kept in metadata).
            trace.Remove("external_id");
            ((JsonObject)trace["metadata"]!)["requested_external_id"] = externalId.DeepClone();
            item = (await ingestion.IngestProxyAsync(JsonSerializer.SerializeToElement(trace), ct)).Items[0];
        }

        if (!item.IsStored)
        {
            LogNotStored(logger, string.Join("; ", item.Errors.Select(e => $"{e.Field}: {e.Message}")));
        }

        if (connectionId is { } connection)
        {
            var answer = exchange.Answer;
            await usage.RecordAsync(new ProviderCall
            {
                Id = Common.Uuid7.Create(clock.GetUtcNow()),
                ConnectionId = connection,
                Source = ProviderCallSource.Proxy,
                At = exchange.StartedAt,
                Model = answer?.Model ?? ProxyWire.Str(exchange.Request, "model"),
                InputTokens = answer?.InputTokens,
                OutputTokens = answer?.OutputTokens,
                Cost = Traces.ModelPrices.Compute(answer?.Model ?? ProxyWire.Str(exchange.Request, "model"), answer?.InputTokens, answer?.OutputTokens),
                LatencyMs = exchange.LatencyMs,
                TimeToFirstTokenMs = exchange.TimeToFirstTokenMs,
                Status = exchange.Status,
                IsError = exchange.Error is not null,
                TraceId = item.Id,
                ApiKeyId = team.ApiKeyId,
                EndUser = exchange.Caller.User,
            }, ct);
        }

        return item.Id;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "A proxied call's trace was not stored: {Reasons}")]
    private static partial void LogNotStored(ILogger logger, string reasons);
}
