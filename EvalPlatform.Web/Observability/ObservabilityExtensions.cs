using System.Security.Cryptography;
using System.Text;
using EvalPlatform.Core.Observability;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace EvalPlatform.Web.Observability;

/// <summary>The <c>Observability</c> section: where the platform's own metrics and spans go (ADR 48).</summary>
public sealed class ObservabilityOptions
{
    public const string SectionName = "Observability";

    /// <summary>
    /// The OTLP collector's base URL (http/protobuf: <c>/v1/metrics</c> and <c>/v1/traces</c> are appended). Empty: the
    /// standard <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> variable is used when set; neither set: nothing is exported over OTLP.
    /// </summary>
    public string OtlpEndpoint { get; set; } = "";

    /// <summary>Serve the metrics for Prometheus to scrape at <see cref="ObservabilityExtensions.MetricsPath"/>. Off by default.</summary>
    public bool PrometheusEnabled { get; set; }

    /// <summary>When set, a scrape must send <c>Authorization: Bearer &lt;token&gt;</c> (else 401).</summary>
    public string PrometheusToken { get; set; } = "";
}

/// <summary>
/// OpenTelemetry for the platform itself: the <see cref="EvalMetrics"/> meter, the rate limiter's meter and ASP.NET Core's
/// HTTP server metrics; spans of the app's own work and of HTTP requests. Metrics are exported over OTLP and/or offered to
/// Prometheus; spans only over OTLP (with no OTLP endpoint no span is recorded at all, so an idle tracer costs nothing).
/// </summary>
public static class ObservabilityExtensions
{
    public const string MetricsPath = "/metrics";
    public const string ServiceName = "evalplatform";

    /// <summary>The OTLP endpoint in effect: the setting, else the standard variable; null when neither is set.</summary>
    public static Uri? OtlpEndpoint(IConfiguration configuration)
    {
        var value = configuration[$"{ObservabilityOptions.SectionName}:{nameof(ObservabilityOptions.OtlpEndpoint)}"];
        if (string.IsNullOrWhiteSpace(value))
        {
            value = configuration["OTEL_EXPORTER_OTLP_ENDPOINT"];
        }

        if (string.IsNullOrWhiteSpace(value))
        {
            return null;
        }

        return Uri.TryCreate(value.Trim(), UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps)
            ? uri
            : throw new InvalidOperationException($"{ObservabilityOptions.SectionName}:{nameof(ObservabilityOptions.OtlpEndpoint)} (or OTEL_EXPORTER_OTLP_ENDPOINT) must be an http(s) URL; it is '{value}'.");
    }

    public static WebApplicationBuilder AddEvalObservability(this WebApplicationBuilder builder)
    {
        var options = builder.Configuration.GetSection(ObservabilityOptions.SectionName).Get<ObservabilityOptions>() ?? new ObservabilityOptions();
        builder.Services.AddOptions<ObservabilityOptions>().BindConfiguration(ObservabilityOptions.SectionName);
        var otlp = OtlpEndpoint(builder.Configuration);
        if (otlp is null && !options.PrometheusEnabled)
        {
            // The instruments still count (EvalMetrics is Core's); nobody collects them.
            return builder;
        }

        var telemetry = builder.Services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService(ServiceName, serviceInstanceId: Environment.MachineName + ":" + Environment.ProcessId))
            .WithMetrics(m =>
            {
                m.AddMeter(EvalMetrics.MeterName, RateLimits.RateLimitService.MeterName);
                m.AddAspNetCoreInstrumentation();
                if (options.PrometheusEnabled)
                {
                    m.AddPrometheusExporter();
                }
            });
        if (otlp is not null)
        {
            telemetry.WithTracing(t => t.AddSource(EvalMetrics.MeterName).AddAspNetCoreInstrumentation(o =>
                // Blazor's circuit traffic and static files are noise in a trace view; API and page requests are kept.
                o.Filter = c => !c.Request.Path.StartsWithSegments("/_blazor") && !c.Request.Path.StartsWithSegments("/_framework")));
            telemetry.UseOtlpExporter(OtlpExportProtocol.HttpProtobuf, otlp);
        }

        return builder;
    }

    /// <summary>The Prometheus scrape endpoint, when enabled; anonymous unless a token is set. Its series carry no team.</summary>
    public static WebApplication MapEvalMetrics(this WebApplication app)
    {
        var options = app.Configuration.GetSection(ObservabilityOptions.SectionName).Get<ObservabilityOptions>() ?? new ObservabilityOptions();
        if (!options.PrometheusEnabled)
        {
            return app;
        }

        var expected = string.IsNullOrEmpty(options.PrometheusToken) ? null : Encoding.UTF8.GetBytes("Bearer " + options.PrometheusToken);
        app.MapPrometheusScrapingEndpoint(MetricsPath, meterProvider: null, configureBranchedPipeline: branch => branch.Use(async (context, next) =>
        {
            if (expected is not null && !FixedTimeEquals(context.Request.Headers.Authorization.ToString(), expected))
            {
                context.Response.StatusCode = StatusCodes.Status401Unauthorized;
                context.Response.Headers.WWWAuthenticate = "Bearer";
                return;
            }

            await next(context);
        }), optionsName: null);
        return app;
    }

    private static bool FixedTimeEquals(string given, byte[] expected) =>
        CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(given), expected);
}
