using System.Net;
using System.Net.Sockets;
using EvalPlatform.Web.Auth;
using EvalPlatform.Web.Health;

namespace EvalPlatform.Web.RateLimits;

/// <summary>
/// Marks an anonymous endpoint (a page through <c>@attribute</c>, or a route through <c>WithMetadata</c>) as counted per
/// client address under <paramref name="limit"/>'s rule; <see cref="Method"/> narrows it to one HTTP method (the sign-in
/// form's POST, not the page's GET).
/// </summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Method, AllowMultiple = false)]
public sealed class LimitByAddressAttribute(AddressLimit limit) : Attribute
{
    public AddressLimit Limit { get; } = limit;

    public string? Method { get; init; }
}

/// <summary>
/// After authorization, so the principal is known: every request authenticated by an API key (/api/v1, OTLP, LangSmith, the
/// proxy) counts against its key's and its team's limits, and endpoints marked <see cref="LimitByAddressAttribute"/>
/// against their client address's. The address is the connection's, as ForwardedHeaders left it (a forwarded one only
/// from the configured proxies); IPv6 clients are counted per /64, what one subscriber usually holds.
/// </summary>
public sealed class RateLimitMiddleware(RequestDelegate next)
{
    public async Task InvokeAsync(HttpContext context, RateLimitService limits)
    {
        try
        {
            if (context.GetEndpoint()?.Metadata.GetMetadata<LimitByAddressAttribute>() is { } byAddress
                && (byAddress.Method is null || HttpMethods.Equals(byAddress.Method, context.Request.Method)))
            {
                await limits.CheckAddressAsync(byAddress.Limit, ClientAddress(context), context.RequestAborted);
            }

            if (context.User.Identity is { IsAuthenticated: true, AuthenticationType: ApiKeyDefaults.Scheme }
                && Guid.TryParse(context.User.FindFirst(ApiKeyDefaults.KeyIdClaim)?.Value, out var keyId)
                && Guid.TryParse(context.User.FindFirst(ApiKeyDefaults.TeamIdClaim)?.Value, out var teamId))
            {
                await limits.CheckKeyAsync(keyId, teamId, context.RequestAborted);
            }
        }
        catch (RateLimitExceededException e)
        {
            await WriteAsync(context, e);
            return;
        }

        await next(context);
    }

    /// <summary>429 with Retry-After (whole seconds) and problem details; also what the exception handler answers.</summary>
    public static Task WriteAsync(HttpContext context, RateLimitExceededException e)
    {
        context.Response.Headers.RetryAfter = RateLimitService.Seconds(e.RetryAfter).ToString(System.Globalization.CultureInfo.InvariantCulture);
        return Problems.WriteAsync(context, StatusCodes.Status429TooManyRequests, "Too many requests", e.Message);
    }

    internal static string ClientAddress(HttpContext context)
    {
        if (context.Connection.RemoteIpAddress is not { } address)
        {
            return "unknown";
        }

        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return address.ToString();
        }

        var bytes = address.GetAddressBytes();
        Array.Clear(bytes, 8, 8);
        return new IPAddress(bytes) + "/64";
    }
}

public static class RateLimitServiceCollectionExtensions
{
    /// <summary>The <c>RateLimits</c> options and counters: shared through Redis when it is configured, else this node's.</summary>
    public static WebApplicationBuilder AddEvalRateLimits(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<RateLimitOptions>().BindConfiguration(RateLimitOptions.SectionName)
            .Validate(o => o.Rules.All(r => r is { PerSecond: >= 0, PerMinute: >= 0 }), "RateLimits: each limit is 0 (no limit) or more.")
            .Validate(o => o.RedisTimeoutMilliseconds > 0, "RateLimits:RedisTimeoutMilliseconds must be more than 0.")
            .ValidateOnStart();
        builder.Services.AddSingleton<InProcessRateLimitCounter>();
        if (RedisConnection.IsConfigured(builder.Configuration))
        {
            builder.Services.AddSingleton<IRateLimitCounter, RedisRateLimitCounter>();
        }
        else
        {
            builder.Services.AddSingleton<IRateLimitCounter>(sp => sp.GetRequiredService<InProcessRateLimitCounter>());
        }

        builder.Services.AddSingleton<RateLimitService>();
        return builder;
    }
}
