using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EvalPlatform.Tests.Integration.Notifications;

/// <summary>
/// Slack and a webhook receiver on a loopback Kestrel port, answering as their documentation says.
/// <list type="bullet">
/// <item><c>POST /api/chat.postMessage</c> (Slack's Web API): bearer token <see cref="BotToken"/> or <c>{"ok":false,"error":"invalid_auth"}</c>;
/// a JSON body with <c>channel</c> and <c>text</c> or <c>blocks</c>; <c>#missing</c> gives <c>channel_not_found</c>; all with HTTP 200.</item>
/// <item><c>POST /services/T0/B0/{key}</c> (an incoming webhook): <c>ok</c> for <see cref="WebhookKey"/>; <c>404 no_service</c> for any other key;
/// <c>400 invalid_payload</c> for a body without <c>text</c> or <c>blocks</c>.</item>
/// <item><c>POST /hooks/{name}</c>: a customer's webhook receiver; <c>204</c>.</item>
/// </list>
/// A test can script the next answers of a path (429 with Retry-After, 500…) and hold a path's requests until released.
/// </summary>
public sealed class FakeReceiver : IAsyncDisposable
{
    public const string BotToken = "xoxb-test-token";
    public const string WebhookKey = "XXXXXXXXXXXXXXXXXXXXXXXX";

    public sealed record Received(string Path, IReadOnlyDictionary<string, string> Headers, string Body, byte[] RawBody);

    private sealed record Scripted(int Status, string Body, string ContentType, string? RetryAfter);

    private readonly ConcurrentQueue<Received> _received = new();
    private readonly ConcurrentDictionary<string, ConcurrentQueue<Scripted>> _scripts = new();
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _holds = new();
    private readonly SemaphoreSlim _arrived = new(0);
    private WebApplication? _app;

    public Uri Address { get; private set; } = default!;

    public string SlackApiBase => new Uri(Address, "/api/").ToString();

    public string SlackWebhookUrl => new Uri(Address, $"/services/T0/B0/{WebhookKey}").ToString();

    public string HookUrl(string name) => new Uri(Address, $"/hooks/{name}").ToString();

    public IReadOnlyList<Received> All => _received.ToList();

    public IReadOnlyList<Received> To(string path) => _received.Where(r => r.Path == path).ToList();

    public static async Task<FakeReceiver> StartAsync()
    {
        var receiver = new FakeReceiver();
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { EnvironmentName = "Production" });
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        receiver._app = builder.Build();
        receiver._app.Run(receiver.HandleAsync);
        await receiver._app.StartAsync();
        var address = receiver._app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        receiver.Address = new Uri(address);
        return receiver;
    }

    /// <summary>The next request to <paramref name="path"/> gets this answer (queued: several calls script several answers).</summary>
    public void Script(string path, int status, string body, string contentType = "text/plain", string? retryAfter = null) =>
        _scripts.GetOrAdd(path, _ => new()).Enqueue(new Scripted(status, body, contentType, retryAfter));

    /// <summary>Requests to <paramref name="path"/> wait (after being recorded) until the returned source is completed.</summary>
    public TaskCompletionSource Hold(string path) => _holds.GetOrAdd(path, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));

    /// <summary>Waits until <paramref name="path"/> has received <paramref name="count"/> requests.</summary>
    public async Task<IReadOnlyList<Received>> WaitForAsync(string path, int count = 1, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(30));
        while (To(path).Count < count)
        {
            try
            {
                await _arrived.WaitAsync(TimeSpan.FromMilliseconds(200), cts.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"{path} received {To(path).Count} of {count} requests; all: {string.Join(", ", All.Select(r => r.Path))}");
            }
        }

        return To(path);
    }

    private async Task HandleAsync(HttpContext context)
    {
        using var buffer = new MemoryStream();
        await context.Request.Body.CopyToAsync(buffer);
        var raw = buffer.ToArray();
        var path = context.Request.Path.Value ?? "";
        var headers = context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
        _received.Enqueue(new Received(path, headers, System.Text.Encoding.UTF8.GetString(raw), raw));
        _arrived.Release();

        if (_holds.TryGetValue(path, out var hold))
        {
            await hold.Task.WaitAsync(context.RequestAborted).ContinueWith(_ => { }, TaskScheduler.Default);
            if (context.RequestAborted.IsCancellationRequested)
            {
                return;
            }
        }

        if (_scripts.TryGetValue(path, out var queue) && queue.TryDequeue(out var scripted))
        {
            if (scripted.RetryAfter is not null)
            {
                context.Response.Headers.RetryAfter = scripted.RetryAfter;
            }

            await WriteAsync(context, scripted.Status, scripted.Body, scripted.ContentType);
            return;
        }

        if (context.Request.Method != "POST")
        {
            await WriteAsync(context, 405, "method_not_allowed", "text/plain");
        }
        else if (path == "/api/chat.postMessage")
        {
            await WriteAsync(context, 200, PostMessage(context, raw), "application/json; charset=utf-8");
        }
        else if (path.StartsWith("/services/", StringComparison.Ordinal))
        {
            if (path != $"/services/T0/B0/{WebhookKey}")
            {
                await WriteAsync(context, 404, "no_service", "text/html");
            }
            else if (!HasTextOrBlocks(raw, out _))
            {
                await WriteAsync(context, 400, "invalid_payload", "text/html");
            }
            else
            {
                await WriteAsync(context, 200, "ok", "text/html");
            }
        }
        else if (path.StartsWith("/hooks/", StringComparison.Ordinal))
        {
            context.Response.StatusCode = 204;
        }
        else
        {
            await WriteAsync(context, 404, "not found", "text/plain");
        }
    }

    private static string PostMessage(HttpContext context, byte[] raw)
    {
        if (context.Request.Headers.Authorization.ToString() != $"Bearer {BotToken}")
        {
            return """{"ok":false,"error":"invalid_auth"}""";
        }

        if (!HasTextOrBlocks(raw, out var json))
        {
            return """{"ok":false,"error":"no_text"}""";
        }

        if (!json.TryGetProperty("channel", out var channel) || channel.ValueKind != JsonValueKind.String)
        {
            return """{"ok":false,"error":"channel_not_found"}""";
        }

        return channel.GetString() == "#missing"
            ? """{"ok":false,"error":"channel_not_found"}"""
            : """{"ok":true,"channel":"C0123456789","ts":"1733539200.000100","message":{"type":"message"}}""";
    }

    private static bool HasTextOrBlocks(byte[] raw, out JsonElement json)
    {
        json = default;
        try
        {
            json = JsonDocument.Parse(raw).RootElement.Clone();
        }
        catch (JsonException)
        {
            return false;
        }

        return json.ValueKind == JsonValueKind.Object
            && ((json.TryGetProperty("text", out var text) && text.ValueKind == JsonValueKind.String && text.GetString()!.Length > 0)
                || (json.TryGetProperty("blocks", out var blocks) && blocks.ValueKind == JsonValueKind.Array && blocks.GetArrayLength() > 0));
    }

    private static async Task WriteAsync(HttpContext context, int status, string body, string contentType)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = contentType;
        await context.Response.WriteAsync(body);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var hold in _holds.Values)
        {
            hold.TrySetResult();
        }

        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }

        _arrived.Dispose();
    }
}
