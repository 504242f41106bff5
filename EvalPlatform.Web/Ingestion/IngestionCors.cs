using EvalPlatform.Core.Ingestion;
using EvalPlatform.Core.Teams;
using EvalPlatform.Web.Auth;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Cors.Infrastructure;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace EvalPlatform.Web.Ingestion;

/// <summary>What an ingestion request's <c>Origin</c> comes to.</summary>
public enum OriginVerdict
{
    /// <summary>No <c>Origin</c>, or the app's own: not a cross-origin request, CORS says nothing.</summary>
    NotCrossOrigin,

    /// <summary>The configuration or the team allows it: CORS headers, and the request goes on.</summary>
    Allowed,

    /// <summary>Neither does: no CORS headers (the browser blocks the answer), and a request that would store is refused with 403.</summary>
    Refused,
}

/// <summary>
/// CORS on the ingestion routes only (ADR 14): the routes that store traces (<see cref="RequireIngestionCors{TBuilder}"/>) and
/// LangSmith's <c>/info</c> (<see cref="AllowIngestionCors{TBuilder}"/>), never the UI, the read routes or the admin routes, and
/// never with credentials (cookies). An origin is allowed by the configuration (<c>Ingestion:Cors:AllowedOrigins</c>, for every
/// team) or by a team's list (<see cref="Team.IngestionOrigins"/>, Settings → Ingestion). A preflight carries no key, so it is
/// answered for an origin of the configuration or of any team; the request itself must come from an origin of the configuration
/// or of its key's team, else it gets no CORS headers and, where it would store, a 403 before anything is stored.
/// </summary>
public static class IngestionCors
{
    public const string PolicyName = "ingestion";

    /// <summary>GET is there for LangSmith's <c>/info</c> alone: a GET preflight elsewhere matches no CORS-enabled endpoint (405).</summary>
    public static readonly string[] Methods = ["GET", "POST", "PATCH"];

    /// <summary>
    /// What the SDKs send: the key (<c>Authorization</c>, <c>x-api-key</c>), JSON or protobuf bodies, gzip (OTLP, LangSmith's
    /// multipart), Phoenix's project header, the LangSmith JS SDK's <c>x-tenant-id</c> and its <c>User-Agent</c> (which Firefox
    /// sends from <c>fetch</c> and so asks for).
    /// </summary>
    public static readonly string[] Headers =
        ["authorization", "content-type", "content-encoding", "x-api-key", "x-project-name", "x-tenant-id", "user-agent"];

    /// <summary>What the SDKs read from an answer besides the CORS-safelisted headers: back-off and the created trace.</summary>
    public static readonly string[] ExposedHeaders = ["retry-after", "location"];

    /// <summary>How long a browser may reuse a preflight's answer (Chromium caps it at 2 hours, Firefox at 24).</summary>
    public static readonly TimeSpan MaxAge = TimeSpan.FromMinutes(10);

    internal const string VerdictItem = "EvalPlatform.IngestionOriginVerdict";

    private static readonly CorsPolicy Allowing = Build(allowed: true);
    private static readonly CorsPolicy Refusing = Build(allowed: false);

    /// <summary>The CORS policy, the origin check on the request and the settings they read.</summary>
    public static WebApplicationBuilder AddIngestionCors(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<IngestionCorsOptions>().BindConfiguration(IngestionCorsOptions.SectionName).ValidateOnStart();
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<IngestionCorsOptions>, IngestionCorsOptionsValidator>());
        builder.Services.AddSingleton<IngestionCorsSettings>();
        builder.Services.AddCors();
        // The only policy there is: resolved per request, because which origins it allows depends on the teams' lists.
        builder.Services.Replace(ServiceDescriptor.Singleton<ICorsPolicyProvider, IngestionCorsPolicyProvider>());
        return builder;
    }

    /// <summary>A route that stores: CORS as above, and a request from an origin its team does not allow is refused (403) before the handler.</summary>
    public static TBuilder RequireIngestionCors<TBuilder>(this TBuilder builder, IngestionDoor door)
        where TBuilder : IEndpointConventionBuilder
    {
        builder.RequireCors(PolicyName);
        builder.AddEndpointFilter(new IngestionOriginFilter(door));
        return builder;
    }

    /// <summary>A route that stores nothing and needs no key (LangSmith's <c>/info</c>): the CORS answer alone.</summary>
    public static TBuilder AllowIngestionCors<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder => builder.RequireCors(PolicyName);

    /// <summary>
    /// The verdict for this request, worked out once. A preflight (no key) passes an origin of the configuration or of any
    /// team. Any other request is checked against its key's team (the API key scheme is authenticated here; its handler keeps
    /// the result, so authorization does not repeat it); without a valid key, as a preflight is, so the 401 can be read.
    /// </summary>
    public static async Task<OriginVerdict> DecideAsync(HttpContext context, bool preflight)
    {
        if (!preflight && context.Items.TryGetValue(VerdictItem, out var known) && known is OriginVerdict verdict)
        {
            return verdict;
        }

        verdict = await DecideUncachedAsync(context, preflight);
        if (!preflight)
        {
            context.Items[VerdictItem] = verdict;
        }

        return verdict;
    }

    /// <summary>
    /// The rule itself, for an <paramref name="origin"/> in normal form: the configuration allows it for every team; a request
    /// with a valid key (<paramref name="keyTeam"/>) also needs its team's list, one without (a preflight, a 401) any team's.
    /// </summary>
    public static OriginVerdict Judge(string origin, IngestionCorsSettings settings, IngestionOriginSnapshot teams, Guid? keyTeam) =>
        settings.AllowsForEveryTeam(origin) || (keyTeam is { } team ? teams.Allows(origin, team) : teams.AllowsAnyTeam(origin))
            ? OriginVerdict.Allowed
            : OriginVerdict.Refused;

    /// <summary>
    /// The request's <c>Origin</c> in normal form, or the verdict when there is nothing to look up: none, or the app's own
    /// (not cross-origin); one no list can hold, such as <c>null</c> from a file or a sandboxed frame (refused).
    /// </summary>
    public static OriginVerdict? ReadOrigin(HttpRequest request, out string origin)
    {
        var header = request.Headers.Origin.ToString();
        if (header.Length == 0)
        {
            origin = "";
            return OriginVerdict.NotCrossOrigin;
        }

        if (!IngestionOrigin.TryNormalize(header, out origin, out _))
        {
            return OriginVerdict.Refused;
        }

        return IngestionOrigin.TryNormalize($"{request.Scheme}://{request.Host}", out var own, out _) && own == origin
            ? OriginVerdict.NotCrossOrigin
            : null;
    }

    private static async Task<OriginVerdict> DecideUncachedAsync(HttpContext context, bool preflight)
    {
        if (ReadOrigin(context.Request, out var origin) is { } early)
        {
            return early;
        }

        var services = context.RequestServices;
        var settings = services.GetRequiredService<IngestionCorsSettings>();
        if (settings.AllowsForEveryTeam(origin))
        {
            return OriginVerdict.Allowed;
        }

        var teams = await services.GetRequiredService<IngestionOriginService>().GetSnapshotAsync(context.RequestAborted);
        Guid? keyTeam = null;
        if (!preflight)
        {
            var key = await context.AuthenticateAsync(ApiKeyDefaults.Scheme);
            if (key.Succeeded && Guid.TryParse(key.Principal.FindFirst(ApiKeyDefaults.TeamIdClaim)?.Value, out var id))
            {
                keyTeam = id;
            }
        }

        return Judge(origin, settings, teams, keyTeam);
    }

    internal static CorsPolicy PolicyFor(OriginVerdict verdict) => verdict == OriginVerdict.Allowed ? Allowing : Refusing;

    private static CorsPolicy Build(bool allowed)
    {
        // The origin is decided before the policy is chosen; echoing it (not "*") also makes the middleware add Vary: Origin.
        // No AllowCredentials: a browser never sends the app's cookies here, and ingestion never reads them.
        var builder = new CorsPolicyBuilder()
            .SetIsOriginAllowed(_ => allowed)
            .WithMethods(Methods)
            .WithHeaders(Headers)
            .WithExposedHeaders(ExposedHeaders)
            .SetPreflightMaxAge(MaxAge);
        return builder.Build();
    }
}

/// <summary>The configuration's origins in normal form; <c>*</c> allows every http(s) origin.</summary>
public sealed class IngestionCorsSettings(IOptions<IngestionCorsOptions> options)
{
    private readonly HashSet<string> _origins = options.Value.AllowedOrigins
        .Select(o => IngestionOrigin.TryNormalize(o, out var origin, out _) ? origin : null)
        .OfType<string>()
        .ToHashSet(StringComparer.Ordinal);

    public bool AllowsAny { get; } = options.Value.AllowedOrigins.Any(o => o.Trim() == IngestionOrigin.Wildcard);

    /// <summary><paramref name="origin"/> is in normal form.</summary>
    public bool AllowsForEveryTeam(string origin) => AllowsAny || _origins.Contains(origin);
}

/// <summary>Every configured origin must be <c>*</c> or an origin; the process does not start with one it would silently ignore.</summary>
public sealed class IngestionCorsOptionsValidator : IValidateOptions<IngestionCorsOptions>
{
    public ValidateOptionsResult Validate(string? name, IngestionCorsOptions options)
    {
        var failures = options.AllowedOrigins
            .Select((text, i) => (text, i))
            .Where(e => e.text?.Trim() != IngestionOrigin.Wildcard && !IngestionOrigin.TryNormalize(e.text, out _, out _))
            .Select(e =>
            {
                IngestionOrigin.TryNormalize(e.text, out _, out var error);
                return $"{IngestionCorsOptions.SectionName}:AllowedOrigins:{e.i} ('{e.text}'): {error}";
            })
            .ToList();
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}

/// <summary>The one CORS policy provider: the ingestion policy, allowing or refusing as <see cref="IngestionCors.DecideAsync"/> says.</summary>
public sealed class IngestionCorsPolicyProvider : ICorsPolicyProvider
{
    public async Task<CorsPolicy?> GetPolicyAsync(HttpContext context, string? policyName)
    {
        if (policyName != IngestionCors.PolicyName)
        {
            // Every other endpoint (pages, sign-in forms, read and admin routes) has no CORS at all.
            return null;
        }

        var preflight = HttpMethods.IsOptions(context.Request.Method) && context.Request.Headers.ContainsKey("Access-Control-Request-Method");
        return IngestionCors.PolicyFor(await IngestionCors.DecideAsync(context, preflight));
    }
}

/// <summary>
/// Runs after authorization on a route that stores: a browser's request from an origin neither the configuration nor the key's
/// team allows is answered 403 (without CORS headers) and stores nothing; it is counted in the team's ingestion issue log, so an
/// Admin sees on Settings → Ingestion which origin to add.
/// </summary>
internal sealed class IngestionOriginFilter(IngestionDoor door) : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        if (await IngestionCors.DecideAsync(http, preflight: false) != OriginVerdict.Refused)
        {
            return await next(context);
        }

        var origin = http.Request.Headers.Origin.ToString();
        origin = origin.Length <= IngestionOrigin.MaxLength ? origin : origin[..IngestionOrigin.MaxLength] + "…";
        var reason = $"The browser origin '{origin}' may not send traces with this team's keys. An Admin adds it under Settings → Ingestion → Browser origins.";
        var services = http.RequestServices;
        if (services.GetRequiredService<Core.Tenancy.ITeamContext>().TeamId is { } teamId)
        {
            services.GetRequiredService<IIngestionIssueLog>().Record(teamId, door, [new IngestionIssueReport(IngestionIssueKind.Refused, "Origin", reason)]);
        }

        services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(IngestionCors))
            .LogInformation("Refused a browser request to {Path} from origin {Origin}: not allowed for the key's team", http.Request.Path, origin);
        await Problems.WriteAsync(http, StatusCodes.Status403Forbidden, "Origin not allowed", reason);
        return Results.Empty;
    }
}
