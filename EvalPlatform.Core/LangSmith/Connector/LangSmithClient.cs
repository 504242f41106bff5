using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace EvalPlatform.Core.LangSmith.Connector;

/// <summary>Where and as whom to call LangSmith: the API root (without <c>/api/v1</c>), the decrypted key, the workspace.</summary>
public sealed record LangSmithEndpoint(string ApiUrl, string ApiKey, string? WorkspaceId);

/// <summary>A LangSmith project as <c>GET /api/v1/sessions</c> lists it.</summary>
public sealed record LangSmithProjectListing(Guid Id, string Name, long? RunCount, DateTimeOffset? LastRunStartTime);

/// <summary>One page of <c>POST /api/v1/runs/query</c>: the runs and the cursor of the next page (null: the last page).</summary>
public sealed record LangSmithRunPage(IReadOnlyList<JsonObject> Runs, string? NextCursor);

/// <summary>
/// LangSmith answered with an error (or could not be reached: <see cref="Status"/> null). <see cref="RetryAfter"/> is its
/// <c>Retry-After</c> on a 429 or 503.
/// </summary>
public sealed class LangSmithApiException(int? status, string message, TimeSpan? retryAfter = null) : Exception(message)
{
    public int? Status { get; } = status;
    public TimeSpan? RetryAfter { get; } = retryAfter;

    /// <summary>Worth trying again: rate limited, a server error, or no answer at all.</summary>
    public bool Transient => Status is null or 429 or >= 500;
}

/// <summary>
/// The calls the connector makes to LangSmith, with the shapes of langsmith-sdk's <c>client.py</c>: <c>x-api-key</c>
/// (and <c>X-Tenant-Id</c> for a workspace) on every request, all under <c>{api_url}/api/v1</c>. Its HttpClient connects
/// through the SSRF guard (registered in Web). No retries here: the importer decides (it honours Retry-After).
/// </summary>
public sealed class LangSmithClient(HttpClient http)
{
    /// <summary>The most runs LangSmith returns per <c>/runs/query</c> page.</summary>
    public const int MaxPageSize = 100;

    private const int SessionsPageSize = 100;

    public async Task<JsonObject> InfoAsync(LangSmithEndpoint endpoint, CancellationToken ct) =>
        (await SendAsync(endpoint, HttpMethod.Get, "info", null, ct)) as JsonObject
        ?? throw new LangSmithApiException(200, "GET /info did not answer a JSON object.");

    /// <summary>Every project of the workspace, paged with <c>offset</c>/<c>limit</c> until a page is short (as the SDK does).</summary>
    public async Task<IReadOnlyList<LangSmithProjectListing>> ListProjectsAsync(LangSmithEndpoint endpoint, CancellationToken ct)
    {
        var result = new List<LangSmithProjectListing>();
        for (var offset = 0; offset < 100_000; offset += SessionsPageSize)
        {
            var page = await SendAsync(endpoint, HttpMethod.Get, $"sessions?limit={SessionsPageSize}&offset={offset}&include_stats=true", null, ct) as JsonArray
                       ?? throw new LangSmithApiException(200, "GET /sessions did not answer a JSON list.");
            foreach (var item in page.OfType<JsonObject>())
            {
                if (Guid.TryParse(Text(item["id"]), out var id) && Text(item["name"]) is { } name)
                {
                    result.Add(new LangSmithProjectListing(id, name, item["run_count"] is JsonValue v && v.TryGetValue<long>(out var n) ? n : null, Time(item["last_run_start_time"])));
                }
            }

            if (page.Count < SessionsPageSize)
            {
                break;
            }
        }

        return result;
    }

    /// <summary>One page of the project's runs that started at or after <paramref name="from"/>, from <paramref name="cursor"/>.</summary>
    public async Task<LangSmithRunPage> QueryRunsAsync(LangSmithEndpoint endpoint, Guid projectId, DateTimeOffset? from, string? cursor, int limit, CancellationToken ct)
    {
        var body = new JsonObject
        {
            ["session"] = new JsonArray(projectId.ToString()),
            ["start_time"] = from?.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture),
            ["cursor"] = cursor,
            ["limit"] = Math.Clamp(limit, 1, MaxPageSize),
        };
        var answer = await SendAsync(endpoint, HttpMethod.Post, "runs/query", body, ct) as JsonObject
                     ?? throw new LangSmithApiException(200, "POST /runs/query did not answer a JSON object.");
        var runs = (answer["runs"] as JsonArray)?.OfType<JsonObject>().ToList() ?? [];
        return new LangSmithRunPage(runs, Text(answer["cursors"]?["next"]));
    }

    /// <summary>The feedback on the given runs (<c>GET /feedback?run=…</c>), every page.</summary>
    public async Task<IReadOnlyList<JsonObject>> ListFeedbackAsync(LangSmithEndpoint endpoint, IReadOnlyCollection<string> runIds, CancellationToken ct)
    {
        var result = new List<JsonObject>();
        if (runIds.Count == 0)
        {
            return result;
        }

        var runs = string.Join("&", runIds.Select(r => "run=" + Uri.EscapeDataString(r)));
        for (var offset = 0; ; offset += MaxPageSize)
        {
            var page = await SendAsync(endpoint, HttpMethod.Get, $"feedback?{runs}&limit={MaxPageSize}&offset={offset}", null, ct) as JsonArray
                       ?? throw new LangSmithApiException(200, "GET /feedback did not answer a JSON list.");
            result.AddRange(page.OfType<JsonObject>());
            if (page.Count < MaxPageSize)
            {
                return result;
            }
        }
    }

    /// <summary>
    /// The feedback on the project's runs created at or after <paramref name="since"/> (<c>GET /feedback?session=…&amp;min_created_at=…</c>),
    /// every page: how late feedback on old runs is found.
    /// </summary>
    public async Task<IReadOnlyList<JsonObject>> ListProjectFeedbackAsync(LangSmithEndpoint endpoint, Guid projectId, DateTimeOffset since, CancellationToken ct)
    {
        var result = new List<JsonObject>();
        var from = Uri.EscapeDataString(since.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture));
        for (var offset = 0; offset < 1_000_000; offset += MaxPageSize)
        {
            var page = await SendAsync(endpoint, HttpMethod.Get, $"feedback?session={projectId}&min_created_at={from}&limit={MaxPageSize}&offset={offset}", null, ct) as JsonArray
                       ?? throw new LangSmithApiException(200, "GET /feedback did not answer a JSON list.");
            result.AddRange(page.OfType<JsonObject>());
            if (page.Count < MaxPageSize)
            {
                break;
            }
        }

        return result;
    }

    /// <summary><c>POST /feedback</c>; the body carries its own <c>id</c> so a retried create is recognised (409).</summary>
    public async Task CreateFeedbackAsync(LangSmithEndpoint endpoint, JsonObject feedback, CancellationToken ct) =>
        await SendAsync(endpoint, HttpMethod.Post, "feedback", feedback, ct);

    /// <summary><c>PATCH /feedback/{id}</c> with the fields that change.</summary>
    public async Task UpdateFeedbackAsync(LangSmithEndpoint endpoint, Guid feedbackId, JsonObject changes, CancellationToken ct) =>
        await SendAsync(endpoint, HttpMethod.Patch, $"feedback/{feedbackId}", changes, ct);

    private async Task<JsonNode?> SendAsync(LangSmithEndpoint endpoint, HttpMethod method, string path, JsonObject? body, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(method, new Uri(endpoint.ApiUrl.TrimEnd('/') + "/api/v1/" + path));
        request.Headers.Add("x-api-key", endpoint.ApiKey);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        if (!string.IsNullOrEmpty(endpoint.WorkspaceId))
        {
            request.Headers.Add("X-Tenant-Id", endpoint.WorkspaceId);
        }

        if (body is not null)
        {
            request.Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
        }

        HttpResponseMessage response;
        string text;
        try
        {
            // The body is read inside the same net: a connection cut or a timeout while it streams is a transient failure too.
            response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
            text = await response.Content.ReadAsStringAsync(ct);
        }
        catch (Exception e) when (e is HttpRequestException or IOException)
        {
            throw new LangSmithApiException(null, $"LangSmith could not be reached: {e.Message}");
        }
        catch (TaskCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new LangSmithApiException(null, "LangSmith did not answer in time.");
        }

        using (response)
        {
            if (!response.IsSuccessStatusCode)
            {
                var status = (int)response.StatusCode;
                throw new LangSmithApiException(status, Describe(status, text), RetryAfter(response));
            }

            if (text.Length == 0)
            {
                return null;
            }

            try
            {
                return JsonNode.Parse(text);
            }
            catch (JsonException)
            {
                throw new LangSmithApiException((int)response.StatusCode, $"{method} /{path.Split('?')[0]} did not answer JSON.");
            }
        }
    }

    private static string Describe(int status, string text)
    {
        string? detail = null;
        try
        {
            detail = JsonNode.Parse(text)?["detail"] is { } d ? (d is JsonValue ? Text(d) : d.ToJsonString()) : null;
        }
        catch (JsonException)
        {
        }

        detail ??= text.Length > 300 ? text[..300] : text;
        var meaning = status switch
        {
            401 => "the API key is invalid or expired",
            403 => "the key may not access this workspace",
            404 => "not found (a deleted project?)",
            429 => "rate limited",
            _ => null,
        };
        return $"LangSmith answered {status}{(meaning is null ? "" : $" ({meaning})")}: {detail}";
    }

    private static TimeSpan? RetryAfter(HttpResponseMessage response)
    {
        if (response.Headers.RetryAfter is not { } header)
        {
            return null;
        }

        return header.Delta ?? (header.Date is { } date ? date - (response.Headers.Date ?? date) : null);
    }

    internal static string? Text(JsonNode? node) =>
        node is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : null;

    internal static DateTimeOffset? Time(JsonNode? node) =>
        Text(node) is { } s && DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var t) ? t : null;
}
