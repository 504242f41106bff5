using System.Net;
using System.Text;
using System.Text.Json;

namespace EvalPlatform.Client.Tests;

/// <summary>One request as the fake platform saw it.</summary>
public sealed record SeenRequest(HttpMethod Method, Uri Uri, string? Authorization, JsonElement Body, DateTimeOffset At)
{
    /// <summary>The external ids of a batch, in order.</summary>
    public IReadOnlyList<string> ExternalIds =>
        Body.GetProperty("traces").EnumerateArray().Select(t => t.GetProperty("external_id").GetString()!).ToList();
}

/// <summary>An HttpMessageHandler playing the platform: records each request and answers with the next scripted response.</summary>
public sealed class FakePlatform(TimeProvider? time = null) : HttpMessageHandler
{
    private readonly List<SeenRequest> _requests = [];
    private readonly Queue<Func<HttpRequestMessage, HttpResponseMessage>> _script = new();
    private readonly SemaphoreSlim _arrived = new(0);

    /// <summary>What answers once the script is used up: every batch stored.</summary>
    public Func<HttpRequestMessage, HttpResponseMessage> Default { get; set; } = _ => Json(HttpStatusCode.Created, """{"items":[]}""");

    public IReadOnlyList<SeenRequest> Requests
    {
        get
        {
            lock (_requests)
            {
                return [.. _requests];
            }
        }
    }

    public FakePlatform Then(Func<HttpRequestMessage, HttpResponseMessage> answer)
    {
        _script.Enqueue(answer);
        return this;
    }

    public FakePlatform Then(HttpStatusCode status, string body = "{}", Action<HttpResponseMessage>? headers = null) => Then(_ =>
    {
        var response = Json(status, body);
        headers?.Invoke(response);
        return response;
    });

    public FakePlatform ThenThrow(Exception exception) => Then(_ => throw exception);

    public static HttpResponseMessage Json(HttpStatusCode status, string body) =>
        new(status) { Content = new StringContent(body, Encoding.UTF8, "application/json") };

    public static string Problem(int status, params (string Field, string Message)[] errors) =>
        JsonSerializer.Serialize(new
        {
            status,
            title = "Invalid trace",
            detail = "see errors",
            errors = errors.ToDictionary(e => e.Field, e => new[] { e.Message }),
        });

    /// <summary>Waits (in real time) until <paramref name="count"/> requests arrived.</summary>
    public async Task WaitForRequestsAsync(int count)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        while (Requests.Count < count)
        {
            await _arrived.WaitAsync(timeout.Token);
        }
    }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var body = request.Content is null ? default : JsonDocument.Parse(await request.Content.ReadAsStringAsync(cancellationToken)).RootElement.Clone();
        lock (_requests)
        {
            _requests.Add(new SeenRequest(request.Method, request.RequestUri!, request.Headers.Authorization?.ToString(), body, (time ?? TimeProvider.System).GetUtcNow()));
        }

        try
        {
            var answer = _script.TryDequeue(out var next) ? next : Default;
            return answer(request);
        }
        finally
        {
            _arrived.Release();
        }
    }

    protected override void Dispose(bool disposing)
    {
        _arrived.Dispose();
        base.Dispose(disposing);
    }
}
