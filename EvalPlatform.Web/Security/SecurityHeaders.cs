using System.Security.Cryptography;
using Microsoft.Extensions.Primitives;

namespace EvalPlatform.Web.Security;

/// <summary>
/// The headers every response carries (ADR 35). The Content-Security-Policy allows scripts from the app itself and the
/// one inline script Blazor renders (the import map), by a nonce made per request (<see cref="NonceOf"/>); styles may
/// be inline because MudBlazor writes its theme as a <c>&lt;style&gt;</c> element and positions popovers with style
/// attributes; the SignalR connection is same-origin ('self' covers ws: and wss: to the same host). An answer that does
/// not say how it may be cached (pages, API answers, the proxy's) is <c>Cache-Control: no-store</c>, so trace content and
/// keys stay out of browser and shared caches (ASVS 14.3.2); static assets keep the caching the static-asset middleware
/// gives them, and an endpoint that chooses its own (the experiment definitions') keeps it.
/// </summary>
public sealed class SecurityHeadersMiddleware(RequestDelegate next)
{
    private const string NonceKey = "evalplatform.csp-nonce";

    /// <summary>This request's script nonce, for the page's inline scripts (<c>&lt;ImportMap nonce=…&gt;</c>).</summary>
    public static string NonceOf(HttpContext context)
    {
        if (context.Items[NonceKey] is not string nonce)
        {
            // Hex, not base64: a "+" would be written into the page as "&#x2B;" (still right for a browser, but not the same text).
            nonce = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
            context.Items[NonceKey] = nonce;
        }

        return nonce;
    }

    public Task InvokeAsync(HttpContext context)
    {
        var headers = context.Response.Headers;
        headers.XContentTypeOptions = "nosniff";
        headers["Referrer-Policy"] = "strict-origin-when-cross-origin";
        headers.XFrameOptions = "DENY";
        headers.ContentSecurityPolicy = context.Request.Path.StartsWithSegments("/api/reference", StringComparison.OrdinalIgnoreCase)
            // The API reference (Scalar) is one page of its own that runs inline scripts; it reads no team data.
            ? "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; frame-ancestors 'none'; base-uri 'self'; object-src 'none'"
            : $"default-src 'self'; script-src 'self' 'nonce-{NonceOf(context)}'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
              + "font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'";
        context.Response.OnStarting(NoStoreUnlessSet, context.Response);
        return next(context);
    }

    private static readonly Func<object, Task> NoStoreUnlessSet = state =>
    {
        var response = (HttpResponse)state;
        if (!response.Headers.ContainsKey("Cache-Control"))
        {
            response.Headers.CacheControl = "no-store";
        }

        return Task.CompletedTask;
    };
}

/// <summary>
/// The SignalR hub (Blazor's <c>/_blazor</c>) answers only pages of this site: a browser always sends <c>Origin</c> with
/// its WebSocket and its negotiate request, and another site's page would otherwise ride the visitor's cookie into a
/// circuit (cross-site WebSocket hijacking). A request without <c>Origin</c> is no browser's, so it carries no visitor's cookie.
/// </summary>
public sealed class HubOriginMiddleware(RequestDelegate next, ILogger<HubOriginMiddleware> logger)
{
    public static readonly string[] HubPaths = ["/_blazor"];

    public Task InvokeAsync(HttpContext context)
    {
        if (HubPaths.Any(p => context.Request.Path.StartsWithSegments(p, StringComparison.OrdinalIgnoreCase))
            && context.Request.Headers.Origin is { Count: > 0 } origin
            && !IsSameOrigin(context.Request, origin))
        {
            logger.LogWarning("Refused a hub request from origin {Origin} (the site is {Scheme}://{Host})", origin.ToString(), context.Request.Scheme, context.Request.Host);
            context.Response.StatusCode = StatusCodes.Status403Forbidden;
            return Task.CompletedTask;
        }

        return next(context);
    }

    /// <summary>Scheme, host and port as the request reached the app (after forwarded headers from known proxies).</summary>
    internal static bool IsSameOrigin(HttpRequest request, StringValues origin) =>
        origin.Count == 1
        && Uri.TryCreate(origin.ToString(), UriKind.Absolute, out var uri)
        && string.Equals(uri.Scheme, request.Scheme, StringComparison.OrdinalIgnoreCase)
        && string.Equals(uri.Authority, new Uri($"{request.Scheme}://{request.Host}").Authority, StringComparison.OrdinalIgnoreCase);
}
