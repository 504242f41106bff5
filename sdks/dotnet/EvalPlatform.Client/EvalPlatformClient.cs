using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace EvalPlatform.Client;

/// <summary>
/// Explicit calls to the platform. Unlike the batcher these are awaited by the caller and throw
/// <see cref="EvalPlatformException"/> (with the problem details) when the platform refuses, and
/// <see cref="HttpRequestException"/> when it cannot be reached.
/// </summary>
public interface IEvalPlatformClient
{
    /// <summary>Sends one trace now (<c>POST /api/v1/traces</c>) and answers its platform id; use it when you need the id at once (e.g. to score it).</summary>
    Task<TraceReceipt> SendTraceAsync(EvalTrace trace, CancellationToken cancellationToken = default);

    /// <summary>
    /// Sends up to 1,000 traces now (<c>POST /api/v1/traces/batch</c>) and answers each one's fate, in order. The
    /// platform stores every valid trace: the ones it skipped or refused as conflicts are in
    /// <see cref="BatchReceipt.NotStored"/> with their reasons, and this is not an error. Throws
    /// <see cref="EvalPlatformException"/> only when nothing could be stored (400, 409: its <c>Errors</c> name each field).
    /// </summary>
    Task<BatchReceipt> SendTracesAsync(IEnumerable<EvalTrace> traces, CancellationToken cancellationToken = default);

    /// <summary>Attaches scores to a trace (<c>POST /api/v1/traces/{id}/scores</c>, scope <c>ingest</c>).</summary>
    Task<IReadOnlyList<StoredScore>> PostScoresAsync(Guid traceId, IEnumerable<EvalScore> scores, CancellationToken cancellationToken = default);

    /// <summary>The trace's review with its history (from <c>GET /api/v1/traces/{id}</c>, scope <c>read</c>).</summary>
    Task<TraceReview> GetReviewAsync(Guid traceId, CancellationToken cancellationToken = default);
}

/// <inheritdoc />
public sealed class EvalPlatformClient : IEvalPlatformClient
{
    private readonly HttpClient _http;
    private readonly EvalPlatformOptions _options;

    /// <summary>A client over any <see cref="HttpClient"/>: the endpoint and the key come from <paramref name="options"/>, per request.</summary>
    public EvalPlatformClient(HttpClient httpClient, EvalPlatformOptions options)
    {
        if (options.Validate() is { Count: > 0 } problems)
        {
            throw new ArgumentException(string.Join(" ", problems), nameof(options));
        }

        _http = httpClient;
        _options = options;
    }

    [ActivatorUtilitiesConstructor]
    public EvalPlatformClient(HttpClient httpClient, IOptions<EvalPlatformOptions> options)
        : this(httpClient, options.Value)
    {
    }

    public async Task<TraceReceipt> SendTraceAsync(EvalTrace trace, CancellationToken cancellationToken = default)
    {
        var body = JsonSerializer.SerializeToUtf8Bytes(trace, EvalJson.Options);
        using var request = EvalPlatformHttp.Request(_options, HttpMethod.Post, "traces", EvalPlatformHttp.JsonContent(body));
        return await SendAsync<TraceReceipt>(request, cancellationToken).ConfigureAwait(false);
    }

    public async Task<BatchReceipt> SendTracesAsync(IEnumerable<EvalTrace> traces, CancellationToken cancellationToken = default)
    {
        var list = traces.ToList();
        if (list.Count == 0)
        {
            return new BatchReceipt([]);
        }

        var body = JsonSerializer.SerializeToUtf8Bytes(new { traces = list }, EvalJson.Options);
        using var request = EvalPlatformHttp.Request(_options, HttpMethod.Post, "traces/batch", EvalPlatformHttp.JsonContent(body));
        return await SendAsync<BatchReceipt>(request, cancellationToken).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<StoredScore>> PostScoresAsync(Guid traceId, IEnumerable<EvalScore> scores, CancellationToken cancellationToken = default)
    {
        var list = scores.ToList();
        if (list.Count == 0)
        {
            return [];
        }

        var body = JsonSerializer.SerializeToUtf8Bytes(new { scores = list }, EvalJson.Options);
        using var request = EvalPlatformHttp.Request(_options, HttpMethod.Post, $"traces/{traceId}/scores", EvalPlatformHttp.JsonContent(body));
        return await SendAsync<List<StoredScore>>(request, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Attaches one score.</summary>
    public Task<IReadOnlyList<StoredScore>> PostScoreAsync(Guid traceId, EvalScore score, CancellationToken cancellationToken = default) =>
        PostScoresAsync(traceId, [score], cancellationToken);

    public async Task<TraceReview> GetReviewAsync(Guid traceId, CancellationToken cancellationToken = default)
    {
        using var request = EvalPlatformHttp.Request(_options, HttpMethod.Get, $"traces/{traceId}");
        var trace = await SendAsync<JsonObject>(request, cancellationToken).ConfigureAwait(false);
        return trace["review"]?.Deserialize<TraceReview>(EvalJson.Options)
            ?? throw new EvalPlatformException($"The platform's answer for trace {traceId} has no review.");
    }

    private async Task<T> SendAsync<T>(HttpRequestMessage request, CancellationToken ct)
    {
        using var response = await _http.SendAsync(request, ct).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw await EvalPlatformHttp.ProblemAsync(response, ct).ConfigureAwait(false);
        }

        return await response.Content.ReadFromJsonAsync<T>(EvalJson.Options, ct).ConfigureAwait(false)
            ?? throw new EvalPlatformException(HttpStatusCode.OK, "Empty answer", $"{request.Method} {request.RequestUri} answered no JSON.", new Dictionary<string, IReadOnlyList<string>>());
    }
}
