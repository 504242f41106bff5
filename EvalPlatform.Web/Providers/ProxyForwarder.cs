using System.Buffers;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using EvalPlatform.Core.Common;
using EvalPlatform.Core.Experiments;
using EvalPlatform.Core.Ingestion;
using EvalPlatform.Core.Providers;
using EvalPlatform.Core.Providers.Proxy;
using EvalPlatform.Core.Tenancy;
using Microsoft.AspNetCore.Http.Features;

namespace EvalPlatform.Web.Providers;

/// <summary>
/// The recording proxy's forwarding (ADR 30): the caller's request goes to the team's connection with the team's provider
/// key, the answer comes back unchanged (status, headers, body; a stream chunk by chunk as it arrives, flushed per chunk),
/// while a tee reads the stream's events into the answer the trace records. Every call is recorded exactly once
/// (<see cref="ProxyRecorder"/>, handed to the <see cref="ProxyRecordingWriter"/> in a <c>finally</c>), after the answer went
/// out: answered, refused upstream, dropped, or abandoned by the client (what arrived, marked).
/// </summary>
public sealed partial class ProxyForwarder(
    IHttpClientFactory httpFactory,
    IProviderConnections connections,
    ExperimentAssignments assignments,
    ProviderBudgets budgets,
    ProxyCassettes cassettes,
    ITeamContext team,
    ProxyRecorder recorder,
    ProxyRecordingWriter recordings,
    TimeProvider clock,
    ILogger<ProxyForwarder> logger)
{
    public const string HttpClientName = "proxy";

    /// <summary>The largest request body the proxy reads (long conversations with images as data URLs).</summary>
    public const int MaxBodyBytes = 32 * 1024 * 1024;

    public const string DefaultAnthropicVersion = "2023-06-01";

    // Not copied from the upstream's answer: hop-by-hop headers and what Kestrel sets itself.
    private static readonly HashSet<string> SkippedResponseHeaders = new(StringComparer.OrdinalIgnoreCase)
    {
        "Transfer-Encoding", "Connection", "Keep-Alive", "Content-Length", "Date", "Server", "Alt-Svc", "Strict-Transport-Security", "Set-Cookie",
    };

    /// <summary>A model call: POST <paramref name="path"/> (relative to the connection's base URL) with a JSON body.</summary>
    public async Task ForwardCallAsync(HttpContext context, ProxyProtocol protocol, string path)
    {
        var ct = context.RequestAborted;
        var errors = new List<FieldError>();
        var caller = ProxyHeaders.Read(context.Request, errors);
        var providerName = ProxyHeaders.Text(context.Request, ProxyHeaders.Provider, IngestionLimits.MaxShortText, errors);
        var experimentKey = ProxyHeaders.Text(context.Request, ProxyHeaders.Experiment, IngestionLimits.MaxShortText, errors);
        var replay = ProxyHeaders.Text(context.Request, ProxyHeaders.Replay, 20, errors)?.ToLowerInvariant();
        if (replay is not (null or RecordMode or ReplayMode))
        {
            errors.Add(new FieldError(ProxyHeaders.Replay, $"Must be '{RecordMode}' or '{ReplayMode}'."));
        }

        if (errors.Count > 0)
        {
            await ProxyErrors.WriteAsync(context, protocol, 400, "invalid_request_error", $"{errors[0].Field}: {errors[0].Message}", errors[0].Field);
            return;
        }

        if (await ReadBodyAsync(context, protocol) is not { } body)
        {
            return;
        }

        // A replay needs no connection and spends no budget: it never reaches the upstream.
        ResolvedProvider? provider = null;
        if (replay != ReplayMode)
        {
            provider = await connections.ResolveAsync(KindOf(protocol), providerName, ct);
            if (provider is null)
            {
                await NoConnectionAsync(context, protocol, providerName);
                return;
            }
        }

        // Before anything reaches the upstream (or the assignment counts an exposure): a spent budget is a 429 with the
        // time its window opens again, in the SDK's error shape (SDKs retry on 429 after Retry-After).
        if (provider is not null && await budgets.CheckAsync(team.ApiKeyId, caller.User, ct) is { } refusal)
        {
            await ProxyErrors.WriteAsync(context, protocol, 429, "rate_limit_error", refusal.Message, retryAfter: refusal.RetryAfter);
            return;
        }

        string? experiment = null;
        string? variant = null;
        if (experimentKey is not null)
        {
            var unit = caller.User ?? caller.Session;
            if (unit is null)
            {
                await ProxyErrors.WriteAsync(context, protocol, 400, "invalid_request_error",
                    $"{ProxyHeaders.Experiment} needs the unit it splits on: send {ProxyHeaders.User} (or {ProxyHeaders.Session}).", ProxyHeaders.User);
                return;
            }

            ExperimentAssignmentResult assignment;
            try
            {
                assignment = await assignments.AssignAsync(experimentKey, unit, attributes: null, ct);
            }
            catch (NotFoundException e)
            {
                await ProxyErrors.WriteAsync(context, protocol, 400, "invalid_request_error", e.Message, ProxyHeaders.Experiment);
                return;
            }

            if (assignment is { InExperiment: true, Variant: { } assigned })
            {
                ProxyExperiment.Apply(protocol, body, assignment.Config ?? "{}");
                experiment = experimentKey;
                variant = assigned;
            }
        }

        var streamed = body["stream"] is JsonValue s && s.GetValueKind() == JsonValueKind.True;
        if (streamed && protocol == ProxyProtocol.OpenAiChat && body["stream_options"] is null)
        {
            // Usage comes in a stream's last chunk only when asked for; the trace, the cost and the budgets need it.
            body["stream_options"] = new JsonObject { ["include_usage"] = true };
        }

        var payload = JsonSerializer.SerializeToUtf8Bytes(body);
        var request = JsonSerializer.Deserialize<JsonElement>(payload);
        var route = $"{(protocol == ProxyProtocol.AnthropicMessages ? "anthropic" : "openai")}/{path}";
        var fingerprint = replay is null ? null : ProxyCassettes.Fingerprint(route, request);
        ProxyCassette? cassette = null;
        if (replay == ReplayMode)
        {
            cassette = await cassettes.FindAsync(fingerprint!, ct);
            if (cassette is null)
            {
                await ProxyErrors.WriteAsync(context, protocol, 404, "not_found_error",
                    $"No cassette for this request (fingerprint {fingerprint}): record it first with {ProxyHeaders.Replay}: {RecordMode}. " +
                    "The fingerprint covers the route and the whole body (model, messages, parameters).", ProxyHeaders.Replay);
                return;
            }
        }

        var exchange = new ProxyExchange
        {
            Protocol = protocol,
            Request = request,
            Caller = caller,
            Provider = provider is null ? cassette!.Provider : WireName(provider.Kind),
            Connection = provider?.Name ?? cassette!.Connection,
            StartedAt = clock.GetUtcNow(),
            Streamed = streamed,
            Replayed = cassette is not null,
            Experiment = experiment,
            Variant = variant,
        };
        var started = Stopwatch.GetTimestamp();
        var tape = replay == RecordMode ? new Tape() : null;
        try
        {
            if (cassette is not null)
            {
                await ReplayAsync(context, protocol, cassette, exchange, started);
            }
            else
            {
                await SendAsync(context, protocol, provider!, path, payload, exchange, started, tape);
                if (tape is { Status: { } status } && !exchange.Abandoned && (tape.Body is not null || exchange.Answer is { Completed: true }))
                {
                    await cassettes.SaveAsync(new ProxyCassette
                    {
                        Fingerprint = fingerprint!,
                        Route = route,
                        Status = status,
                        Headers = JsonSerializer.Serialize(tape.Headers),
                        Body = tape.Body,
                        Chunks = tape.Body is null ? JsonSerializer.Serialize(tape.Chunks.Select(Convert.ToBase64String)) : null,
                        Provider = exchange.Provider,
                        Connection = exchange.Connection,
                    }, CancellationToken.None);
                }
            }
        }
        finally
        {
            if (exchange.LatencyMs == 0)
            {
                exchange.LatencyMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            }

            // A replay leaves a trace (marked replayed) but no usage row: nothing was spent. Recorded in the background so the
            // connection serves the caller's next request at once; inline only when that queue is full or closed.
            if (!recordings.TryQueue(exchange, provider?.ConnectionId, team))
            {
                await recorder.RecordAsync(exchange, provider?.ConnectionId, CancellationToken.None);
            }
        }
    }

    public const string RecordMode = "record";
    public const string ReplayMode = "replay";

    /// <summary>What a recorded call's answer was, for its cassette: status, headers, and the body or the stream's chunks.</summary>
    private sealed class Tape
    {
        public int? Status { get; set; }
        public Dictionary<string, string[]> Headers { get; } = new(StringComparer.OrdinalIgnoreCase);
        public byte[]? Body { get; set; }
        public List<byte[]> Chunks { get; } = [];
    }

    private async Task SendAsync(
        HttpContext context, ProxyProtocol protocol, ResolvedProvider provider, string path, byte[] payload, ProxyExchange exchange, long started, Tape? tape)
    {
        var ct = context.RequestAborted;
        using var request = Upstream(context, HttpMethod.Post, provider, path);
        request.Content = new ByteArrayContent(payload);
        request.Content.Headers.ContentType = new("application/json");

        HttpResponseMessage response;
        try
        {
            response = await httpFactory.CreateClient(HttpClientName).SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            exchange.Abandoned = true;
            exchange.Error = "The client went away before the upstream answered.";
            return;
        }
        catch (HttpRequestException e)
        {
            exchange.Error = $"The upstream could not be reached: {e.Message}";
            await ProxyErrors.WriteAsync(context, protocol, 502, "upstream_unreachable", exchange.Error);
            return;
        }

        using (response)
        {
            exchange.Status = (int)response.StatusCode;
            context.Response.StatusCode = exchange.Status.Value;
            CopyAnswerHeaders(context, response, tape?.Headers);
            var isStream = response.IsSuccessStatusCode && response.Content.Headers.ContentType?.MediaType == "text/event-stream";
            if (isStream)
            {
                await using var upstream = await response.Content.ReadAsStreamAsync(context.RequestAborted);
                await RelayStreamAsync(context, protocol, upstream, exchange, started, tape?.Chunks);
            }
            else
            {
                await RelayBodyAsync(context, protocol, response, exchange, started, tape);
            }

            if (tape is not null)
            {
                tape.Status = exchange.Status;
            }
        }
    }

    /// <summary>A whole answer: read, sent on with its length, the response completed, then read for the trace.</summary>
    private static async Task RelayBodyAsync(HttpContext context, ProxyProtocol protocol, HttpResponseMessage response, ProxyExchange exchange, long started, Tape? tape)
    {
        byte[] bytes;
        try
        {
            bytes = await response.Content.ReadAsByteArrayAsync(context.RequestAborted);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            exchange.Abandoned = true;
            exchange.Error = "The client went away before the upstream's answer arrived.";
            return;
        }
        catch (Exception e) when (e is IOException or HttpRequestException)
        {
            exchange.Error = $"The upstream's answer broke off: {e.Message}";
            context.Abort();
            return;
        }

        exchange.LatencyMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        if (tape is not null)
        {
            tape.Body = bytes;
        }

        await WriteBodyAsync(context, protocol, bytes, exchange);
    }

    private static async Task WriteBodyAsync(HttpContext context, ProxyProtocol protocol, byte[] bytes, ProxyExchange exchange)
    {
        context.Response.ContentLength = bytes.Length;
        try
        {
            await context.Response.Body.WriteAsync(bytes, context.RequestAborted);
            await context.Response.CompleteAsync();
        }
        catch (Exception e) when (e is OperationCanceledException or IOException)
        {
            exchange.Abandoned = true;
        }

        if (exchange.Status is not (>= 200 and < 300))
        {
            exchange.Error = ProxyWire.ErrorMessage(exchange.Status ?? 0, Encoding.UTF8.GetString(bytes));
            return;
        }

        if (ProxyWire.TryParse(Encoding.UTF8.GetString(bytes)) is { ValueKind: JsonValueKind.Object } json)
        {
            exchange.Answer = protocol switch
            {
                ProxyProtocol.AnthropicMessages => AnthropicWire.ReadAnswer(json),
                ProxyProtocol.OpenAiResponses => OpenAiResponsesWire.ReadAnswer(json),
                _ => OpenAiChatWire.ReadAnswer(json),
            };
        }
        else
        {
            exchange.Error = "The upstream's answer was not JSON.";
        }
    }

    /// <summary>
    /// A stream: each piece written and flushed as it arrives, then fed to the tee. The client going away stops the relay
    /// (the upstream call is cancelled with it); the upstream breaking off ends the client's stream the same way.
    /// </summary>
    private static async Task RelayStreamAsync(HttpContext context, ProxyProtocol protocol, Stream upstream, ProxyExchange exchange, long started, List<byte[]>? chunks)
    {
        var ct = context.RequestAborted;
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        IStreamAssembler assembler = protocol switch
        {
            ProxyProtocol.AnthropicMessages => new AnthropicWire.StreamAssembler(),
            ProxyProtocol.OpenAiResponses => new OpenAiResponsesWire.StreamAssembler(),
            _ => new OpenAiChatWire.StreamAssembler(),
        };
        var reader = new SseReader();
        var buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
        var dropped = false;
        try
        {
            await context.Response.StartAsync(ct);
            while (true)
            {
                int read;
                try
                {
                    read = await upstream.ReadAsync(buffer, ct);
                }
                catch (OperationCanceledException) when (ct.IsCancellationRequested)
                {
                    exchange.Abandoned = true;
                    break;
                }
                catch (Exception e) when (e is IOException or HttpRequestException)
                {
                    exchange.Error = $"The upstream's stream broke off: {e.Message}";
                    dropped = true;
                    break;
                }

                if (read == 0)
                {
                    break;
                }

                var arrived = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                chunks?.Add(buffer.AsSpan(0, read).ToArray());
                try
                {
                    await context.Response.Body.WriteAsync(buffer.AsMemory(0, read), ct);
                    await context.Response.Body.FlushAsync(ct);
                }
                catch (Exception e) when (e is OperationCanceledException or IOException)
                {
                    exchange.Abandoned = true;
                }

                foreach (var e in reader.Feed(buffer.AsSpan(0, read)))
                {
                    if (assembler.Add(e) && exchange.TimeToFirstTokenMs is null)
                    {
                        exchange.TimeToFirstTokenMs = arrived;
                    }
                }

                if (exchange.Abandoned)
                {
                    break;
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            exchange.Abandoned = true;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        if (!exchange.Abandoned && !dropped && reader.Finish() is { } last)
        {
            assembler.Add(last);
        }

        exchange.LatencyMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        exchange.Answer = assembler.Answer;
        if (exchange.Answer.Error is { } streamError)
        {
            exchange.Error ??= $"The upstream sent an error in the stream: {streamError}";
        }
        else if (!exchange.Answer.Completed && !exchange.Abandoned)
        {
            exchange.Error ??= "The upstream's stream ended before its end marker.";
        }

        if (dropped)
        {
            // The client sees the broken stream as it happened upstream, not a clean end.
            context.Abort();
        }
        else if (!exchange.Abandoned)
        {
            // The stream's end reaches the client now, not after the recording.
            await context.Response.CompleteAsync();
        }
    }

    /// <summary>A listing (GET …/models): passed through unchanged; not a model call, so no trace.</summary>
    public async Task ForwardListAsync(HttpContext context, ProxyProtocol protocol, string path)
    {
        var errors = new List<FieldError>();
        var providerName = ProxyHeaders.Text(context.Request, ProxyHeaders.Provider, IngestionLimits.MaxShortText, errors);
        if (errors.Count > 0)
        {
            await ProxyErrors.WriteAsync(context, protocol, 400, "invalid_request_error", $"{errors[0].Field}: {errors[0].Message}", errors[0].Field);
            return;
        }

        var provider = await connections.ResolveAsync(KindOf(protocol), providerName, context.RequestAborted);
        if (provider is null)
        {
            await NoConnectionAsync(context, protocol, providerName);
            return;
        }

        using var request = Upstream(context, HttpMethod.Get, provider, path + context.Request.QueryString);
        try
        {
            using var response = await httpFactory.CreateClient(HttpClientName).SendAsync(request, HttpCompletionOption.ResponseHeadersRead, context.RequestAborted);
            context.Response.StatusCode = (int)response.StatusCode;
            CopyAnswerHeaders(context, response);
            await response.Content.CopyToAsync(context.Response.Body, context.RequestAborted);
        }
        catch (HttpRequestException e)
        {
            await ProxyErrors.WriteAsync(context, protocol, 502, "upstream_unreachable", $"The upstream could not be reached: {e.Message}");
        }
    }

    private static HttpRequestMessage Upstream(HttpContext context, HttpMethod method, ResolvedProvider provider, string path)
    {
        var request = new HttpRequestMessage(method, Combine(provider.BaseUrl, path));
        if (provider.Kind == ProviderKind.Anthropic)
        {
            request.Headers.TryAddWithoutValidation("x-api-key", provider.ApiKey);
            var version = context.Request.Headers["anthropic-version"].ToString();
            request.Headers.TryAddWithoutValidation("anthropic-version", version.Length > 0 ? version : DefaultAnthropicVersion);
            if (context.Request.Headers["anthropic-beta"].ToString() is { Length: > 0 } beta)
            {
                request.Headers.TryAddWithoutValidation("anthropic-beta", beta);
            }
        }
        else
        {
            request.Headers.TryAddWithoutValidation("Authorization", $"Bearer {provider.ApiKey}");
        }

        if (context.Request.Headers.Accept.ToString() is { Length: > 0 } accept)
        {
            request.Headers.TryAddWithoutValidation("Accept", accept);
        }

        return request;
    }

    private static Uri Combine(Uri baseUrl, string path) => new($"{baseUrl.ToString().TrimEnd('/')}/{path.TrimStart('/')}");

    private static void CopyAnswerHeaders(HttpContext context, HttpResponseMessage response, Dictionary<string, string[]>? keep = null)
    {
        foreach (var (name, values) in response.Headers.Concat(response.Content.Headers))
        {
            if (!SkippedResponseHeaders.Contains(name))
            {
                var all = values.ToArray();
                context.Response.Headers[name] = all;
                keep?.TryAdd(name, all);
            }
        }
    }

    /// <summary>A cassette's answer, as the upstream gave it: status, headers, then the body, or the chunks one by one.</summary>
    private static async Task ReplayAsync(HttpContext context, ProxyProtocol protocol, ProxyCassette cassette, ProxyExchange exchange, long started)
    {
        exchange.Status = cassette.Status;
        context.Response.StatusCode = cassette.Status;
        foreach (var (name, values) in JsonSerializer.Deserialize<Dictionary<string, string[]>>(cassette.Headers) ?? [])
        {
            context.Response.Headers[name] = values;
        }

        if (cassette.Body is { } body)
        {
            exchange.LatencyMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            await WriteBodyAsync(context, protocol, body, exchange);
            return;
        }

        var chunks = (JsonSerializer.Deserialize<List<string>>(cassette.Chunks ?? "[]") ?? []).Select(Convert.FromBase64String);
        await using var stream = new ChunkStream(chunks);
        await RelayStreamAsync(context, protocol, stream, exchange, started, chunks: null);
    }

    /// <summary>A cassette's chunks read back one per read, as the upstream sent them.</summary>
    private sealed class ChunkStream(IEnumerable<byte[]> chunks) : Stream
    {
        private readonly IEnumerator<byte[]> _chunks = chunks.GetEnumerator();

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            cancellationToken.ThrowIfCancellationRequested();
            return ValueTask.FromResult(Read(buffer.Span));
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            if (!_chunks.MoveNext())
            {
                return 0;
            }

            // The relay's buffer (16 KB) holds any chunk the relay itself read.
            var chunk = _chunks.Current;
            var n = Math.Min(chunk.Length, buffer.Length);
            chunk.AsSpan(0, n).CopyTo(buffer);
            return n;
        }

        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            _chunks.Dispose();
            base.Dispose(disposing);
        }
    }

    private async Task<JsonObject?> ReadBodyAsync(HttpContext context, ProxyProtocol protocol)
    {
        if (context.Request.ContentLength > MaxBodyBytes)
        {
            await ProxyErrors.WriteAsync(context, protocol, 413, "invalid_request_error", $"The body is larger than the proxy's limit ({MaxBodyBytes} bytes).", "body");
            return null;
        }

        try
        {
            using var memory = new MemoryStream();
            await context.Request.Body.CopyToAsync(memory, context.RequestAborted);
            if (memory.Length > MaxBodyBytes)
            {
                await ProxyErrors.WriteAsync(context, protocol, 413, "invalid_request_error", $"The body is larger than the proxy's limit ({MaxBodyBytes} bytes).", "body");
                return null;
            }

            if (JsonNode.Parse(memory.GetBuffer().AsSpan(0, (int)memory.Length), documentOptions: new JsonDocumentOptions { MaxDepth = IngestionLimits.MaxJsonDepth }) is JsonObject body)
            {
                return body;
            }

            await ProxyErrors.WriteAsync(context, protocol, 400, "invalid_request_error", "The body must be a JSON object.", "body");
            return null;
        }
        catch (JsonException e)
        {
            LogBadBody(logger, e.Message);
            await ProxyErrors.WriteAsync(context, protocol, 400, "invalid_request_error", $"The body is not valid JSON: {e.Message}", "body");
            return null;
        }
    }

    private static Task NoConnectionAsync(HttpContext context, ProxyProtocol protocol, string? name)
    {
        var kind = protocol == ProxyProtocol.AnthropicMessages ? "Anthropic" : "OpenAI (or OpenAI-compatible)";
        var message = name is null
            ? $"This team has no {kind} connection. An admin adds one in Settings → Providers (or POST /api/v1/providers)."
            : $"This team has no {kind} connection named '{name}' ({ProxyHeaders.Provider}).";
        return ProxyErrors.WriteAsync(context, protocol, 400, "invalid_request_error", message, name is null ? null : ProxyHeaders.Provider);
    }

    private static ProviderKind KindOf(ProxyProtocol protocol) =>
        protocol == ProxyProtocol.AnthropicMessages ? ProviderKind.Anthropic : ProviderKind.OpenAi;

    private static string WireName(ProviderKind kind) => kind switch
    {
        ProviderKind.Anthropic => "anthropic",
        ProviderKind.OpenAiCompatible => "openai_compatible",
        _ => "openai",
    };

    [LoggerMessage(Level = LogLevel.Debug, Message = "A proxy request's body was not JSON: {Reason}")]
    private static partial void LogBadBody(ILogger logger, string reason);
}
