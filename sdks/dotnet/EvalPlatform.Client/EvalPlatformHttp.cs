using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;

namespace EvalPlatform.Client;

/// <summary>Requests to the platform and reading its answers, shared by the client and the batcher.</summary>
internal static class EvalPlatformHttp
{
    private static readonly ProductInfoHeaderValue UserAgent =
        new("EvalPlatform.Client", typeof(EvalPlatformHttp).Assembly.GetName().Version?.ToString(3) ?? "0");

    private static readonly MediaTypeWithQualityHeaderValue Json = new("application/json");

    /// <summary>A request to <c>/api/v1/{path}</c> under the endpoint, with the key; the HttpClient needs no set-up of its own.</summary>
    public static HttpRequestMessage Request(EvalPlatformOptions options, HttpMethod method, string path, HttpContent? content = null)
    {
        var endpoint = options.Endpoint ?? throw new InvalidOperationException("EvalPlatform:Endpoint is not set.");
        var root = endpoint.AbsoluteUri.EndsWith('/') ? endpoint : new Uri(endpoint.AbsoluteUri + "/");
        var request = new HttpRequestMessage(method, new Uri(root, "api/v1/" + path)) { Content = content };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", options.ApiKey);
        request.Headers.Accept.Add(Json);
        request.Headers.UserAgent.Add(UserAgent);
        return request;
    }

    public static HttpContent JsonContent(byte[] utf8Json)
    {
        var content = new ByteArrayContent(utf8Json);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
        return content;
    }

    /// <summary>How long the platform asked to wait (<c>Retry-After</c> as seconds or as an HTTP date), if it did.</summary>
    public static TimeSpan? RetryAfter(HttpResponseMessage response, DateTimeOffset now)
    {
        var header = response.Headers.RetryAfter;
        if (header?.Delta is { } delta)
        {
            return delta < TimeSpan.Zero ? TimeSpan.Zero : delta;
        }

        if (header?.Date is { } date)
        {
            var wait = date - now;
            return wait < TimeSpan.Zero ? TimeSpan.Zero : wait;
        }

        // A value the typed parser refused (e.g. fractional seconds): read it as seconds if it is a number.
        if (response.Headers.TryGetValues("Retry-After", out var values)
            && double.TryParse(values.FirstOrDefault(), NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) && seconds >= 0)
        {
            return TimeSpan.FromSeconds(seconds);
        }

        return null;
    }

    /// <summary>The problem details of a refused request, read leniently (a proxy may answer HTML).</summary>
    public static async Task<EvalPlatformException> ProblemAsync(HttpResponseMessage response, CancellationToken ct)
    {
        string? title = null;
        string? detail = null;
        var errors = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        try
        {
            var body = await response.Content.ReadAsByteArrayAsync(ct).ConfigureAwait(false);
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            if (root.ValueKind == JsonValueKind.Object)
            {
                title = root.TryGetProperty("title", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
                detail = root.TryGetProperty("detail", out var d) && d.ValueKind == JsonValueKind.String ? d.GetString() : null;
                if (root.TryGetProperty("errors", out var e) && e.ValueKind == JsonValueKind.Object)
                {
                    foreach (var field in e.EnumerateObject())
                    {
                        errors[field.Name] = field.Value.ValueKind == JsonValueKind.Array
                            ? field.Value.EnumerateArray().Select(m => m.ValueKind == JsonValueKind.String ? m.GetString() ?? "" : m.GetRawText()).ToList()
                            : [field.Value.ToString()];
                    }
                }
            }
        }
        catch (JsonException)
        {
            // Not problem details: the status alone says what happened.
        }

        return new EvalPlatformException(response.StatusCode, title ?? response.ReasonPhrase, detail, errors);
    }

    /// <summary>Statuses worth another try: the platform is busy, restarting or behind a failing proxy.</summary>
    public static bool IsTransient(HttpStatusCode status) =>
        status is HttpStatusCode.RequestTimeout or HttpStatusCode.TooManyRequests || (int)status >= 500;
}
