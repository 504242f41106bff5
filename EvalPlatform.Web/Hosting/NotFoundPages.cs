namespace EvalPlatform.Web.Hosting;

/// <summary>Which error responses are pages for a person (shown in the app's frame) rather than problem details for a client.</summary>
public static class NotFoundPages
{
    public const string Path = "/not-found";

    private static readonly string[] MachinePrefixes = ["/api", "/openapi", "/health", "/metrics", "/_framework", "/_content", "/_blazor", "/v1", "/account/logout"];

    /// <summary>A browser's GET of a page address: not the API, not a static asset, and asking for HTML.</summary>
    public static bool WantsPage(HttpContext context)
    {
        var request = context.Request;
        return HttpMethods.IsGet(request.Method)
            && !MachinePrefixes.Any(p => request.Path.StartsWithSegments(p, StringComparison.OrdinalIgnoreCase))
            && !System.IO.Path.HasExtension(request.Path.Value)
            && request.Headers.Accept.Any(a => a is not null && a.Contains("text/html", StringComparison.OrdinalIgnoreCase));
    }
}
