using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EvalPlatform.Tests.Infrastructure;

/// <summary>One request a fake upstream received: method, path, headers (case-insensitive) and body.</summary>
public sealed record UpstreamRequest(string Method, string Path, IReadOnlyDictionary<string, string> Headers, string Body)
{
    public JsonElement Json => JsonDocument.Parse(Body).RootElement.Clone();
}

/// <summary>A tool call the fake answers with: a function name and its JSON arguments.</summary>
public sealed record FakeToolCall(string Name, string ArgumentsJson);

/// <summary>
/// What the fake answers next. Empty fields take the defaults: <see cref="FakeUpstreamServer.DefaultText"/>, 10 input
/// tokens, one output token per streamed piece. <see cref="Status"/> other than 200 answers the provider's error shape
/// (with <see cref="RetryAfter"/> as a header); <see cref="DropAfterChunks"/> aborts a stream after that many pieces;
/// <see cref="Delay"/> waits before answering, <see cref="ChunkDelay"/> between streamed pieces.
/// </summary>
public sealed record FakeReply(
    string? Text = null,
    FakeToolCall? ToolCall = null,
    int Status = 200,
    string? ErrorMessage = null,
    string? RetryAfter = null,
    int? DropAfterChunks = null,
    TimeSpan? Delay = null,
    TimeSpan? ChunkDelay = null,
    int InputTokens = 10,
    int? OutputTokens = null);

/// <summary>
/// The common part of <see cref="FakeOpenAiServer"/> and <see cref="FakeAnthropicServer"/>: a real Kestrel on a loopback
/// port, every request recorded (headers and body), and a queue of scripted replies a test sets (each request takes the
/// next; when none is queued, <see cref="DefaultReply"/>).
/// </summary>
public abstract class FakeUpstreamServer : IAsyncDisposable
{
    public const string DefaultText = "Hello from the fake upstream.";

    private readonly ConcurrentQueue<UpstreamRequest> _received = new();
    private readonly ConcurrentQueue<FakeReply> _replies = new();
    private WebApplication? _app;

    /// <summary>The server's root, e.g. <c>http://127.0.0.1:5123/</c>.</summary>
    public Uri Address { get; private set; } = default!;

    /// <summary>The API key the fake accepts; any other answers 401 in the provider's error shape.</summary>
    public string ApiKey { get; set; } = "";

    /// <summary>What <c>GET /v1/models</c> lists.</summary>
    public IReadOnlyList<string> Models { get; set; } = [];

    /// <summary>The reply when none is queued.</summary>
    public FakeReply DefaultReply { get; set; } = new();

    public IReadOnlyList<UpstreamRequest> Requests => _received.ToList();

    /// <summary>Queues the answer to the next request (several calls queue several answers, in order).</summary>
    public void Next(FakeReply reply) => _replies.Enqueue(reply);

    public void NextText(string text) => Next(new FakeReply(Text: text));

    public void NextToolCall(string name, string argumentsJson) => Next(new FakeReply(ToolCall: new FakeToolCall(name, argumentsJson)));

    public void NextError(int status, string? retryAfter = null, string? message = null) => Next(new FakeReply(Status: status, RetryAfter: retryAfter, ErrorMessage: message));

    /// <summary>Forgets the recorded requests and any queued replies.</summary>
    public void Reset()
    {
        _received.Clear();
        _replies.Clear();
    }

    protected async Task StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { EnvironmentName = "Production" });
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        _app = builder.Build();
        _app.Run(HandleAsync);
        await _app.StartAsync();
        Address = new Uri(_app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First() + "/");
    }

    private async Task HandleAsync(HttpContext context)
    {
        using var reader = new StreamReader(context.Request.Body, Encoding.UTF8);
        var body = await reader.ReadToEndAsync(context.RequestAborted);
        var headers = context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
        _received.Enqueue(new UpstreamRequest(context.Request.Method, context.Request.Path.Value ?? "", headers, body));
        await HandleAsync(context, body);
    }

    /// <summary>Answers one recorded request.</summary>
    protected abstract Task HandleAsync(HttpContext context, string body);

    /// <summary>The reply for this request: the next queued one, else the default. Waits its delay.</summary>
    protected async Task<FakeReply> TakeReplyAsync(HttpContext context)
    {
        var reply = _replies.TryDequeue(out var queued) ? queued : DefaultReply;
        if (reply.Delay is { } delay)
        {
            // The behaviour under test, not a wait in a test: a slow upstream, for timeouts, cancels and overload.
            await Task.Delay(delay, context.RequestAborted);
        }

        return reply;
    }

    /// <summary>The answer's text in the pieces a stream sends: each word with its following space.</summary>
    protected static List<string> Pieces(string text)
    {
        var pieces = new List<string>();
        var start = 0;
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] == ' ')
            {
                pieces.Add(text[start..(i + 1)]);
                start = i + 1;
            }
        }

        if (start < text.Length)
        {
            pieces.Add(text[start..]);
        }

        return pieces;
    }

    /// <summary>A tool call's arguments in three fragments, as providers stream them.</summary>
    protected static List<string> Fragments(string json)
    {
        var third = Math.Max(1, json.Length / 3);
        var fragments = new List<string>();
        for (var i = 0; i < json.Length; i += third)
        {
            fragments.Add(json.Substring(i, Math.Min(third, json.Length - i)));
        }

        return fragments;
    }

    protected static async Task WriteJsonAsync(HttpContext context, int status, object body)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(JsonSerializer.Serialize(body), context.RequestAborted);
    }

    protected static void StartEventStream(HttpContext context)
    {
        context.Response.StatusCode = 200;
        context.Response.ContentType = "text/event-stream; charset=utf-8";
        context.Response.Headers.CacheControl = "no-cache";
    }

    /// <summary>Writes one SSE frame and flushes it, so the client sees it as it is sent.</summary>
    protected static async Task WriteEventAsync(HttpContext context, string? eventName, string data)
    {
        var frame = eventName is null ? $"data: {data}\n\n" : $"event: {eventName}\ndata: {data}\n\n";
        await context.Response.WriteAsync(frame, context.RequestAborted);
        await context.Response.Body.FlushAsync(context.RequestAborted);
    }

    /// <summary>
    /// Counts a streamed piece; once <see cref="FakeReply.DropAfterChunks"/> pieces are out, cuts the connection (no
    /// terminating event), as a broken upstream does. True when the stream was dropped.
    /// </summary>
    protected static async Task<bool> PieceSentAsync(HttpContext context, FakeReply reply, int sent)
    {
        if (reply.DropAfterChunks is { } drop && sent >= drop)
        {
            await context.Response.Body.FlushAsync(context.RequestAborted);
            context.Abort();
            return true;
        }

        if (reply.ChunkDelay is { } delay)
        {
            // The behaviour under test: a slow stream (time to first token, pieces arriving over time).
            await Task.Delay(delay, context.RequestAborted);
        }

        return false;
    }

    protected static bool WantsStream(JsonElement request) =>
        request.ValueKind == JsonValueKind.Object && request.TryGetProperty("stream", out var stream) && stream.ValueKind == JsonValueKind.True;

    protected static string ModelOf(JsonElement request, string fallback) =>
        request.ValueKind == JsonValueKind.Object && request.TryGetProperty("model", out var model) && model.ValueKind == JsonValueKind.String ? model.GetString()! : fallback;

    protected static JsonElement ParseOrDefault(string body)
    {
        try
        {
            return body.Length == 0 ? default : JsonDocument.Parse(body).RootElement.Clone();
        }
        catch (JsonException)
        {
            return default;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }

        GC.SuppressFinalize(this);
    }
}
