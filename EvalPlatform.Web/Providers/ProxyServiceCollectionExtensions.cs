using EvalPlatform.Core.Outbound;

namespace EvalPlatform.Web.Providers;

public static class ProxyServiceCollectionExtensions
{
    /// <summary>The recording proxy: its forwarder and its upstream client, every connection through the SSRF guard.</summary>
    public static WebApplicationBuilder AddEvalProxy(this WebApplicationBuilder builder)
    {
        builder.Services.AddScoped<ProxyForwarder>();
        builder.Services.AddHttpClient(ProxyForwarder.HttpClientName, http => http.Timeout = UpstreamTimeout)
            .ConfigurePrimaryHttpMessageHandler(sp => sp.GetRequiredService<OutboundGuard>().CreateHandler())
            .RemoveAllLoggers(); // two log lines per call would cost the proxy's added latency; the trace records each call
        return builder;
    }

    /// <summary>A long generation streams for minutes; the client's own timeout (its going away) ends a call sooner.</summary>
    public static readonly TimeSpan UpstreamTimeout = TimeSpan.FromMinutes(10);
}
