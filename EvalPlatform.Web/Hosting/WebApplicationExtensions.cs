using EvalPlatform.Core.Analytics;
using EvalPlatform.Core.Email;
using EvalPlatform.Core.Ingestion;
using EvalPlatform.Core.Live;
using EvalPlatform.Core.Queues;
using EvalPlatform.Data;
using EvalPlatform.Web.Ingestion;
using EvalPlatform.Web.Auth;
using EvalPlatform.Web.Components;
using EvalPlatform.Web.Endpoints;
using EvalPlatform.Web.Health;
using EvalPlatform.Web.Notifications;
using EvalPlatform.Web.Observability;
using EvalPlatform.Web.LangSmith;
using EvalPlatform.Web.Providers;
using EvalPlatform.Web.RateLimits;
using EvalPlatform.Web.Security;
using EvalPlatform.Web.Setup;
using EvalPlatform.Web.Traces;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using MudBlazor.Services;
using Scalar.AspNetCore;

namespace EvalPlatform.Web.Hosting;

public static class WebApplicationExtensions
{
    /// <summary>UI, auth, API plumbing, cache and health: everything the web node adds to Core and Data.</summary>
    public static WebApplicationBuilder AddEvalWeb(this WebApplicationBuilder builder)
    {
        builder.Services.AddRazorComponents().AddInteractiveServerComponents();
        builder.Services.AddEvalComponents();
        builder.AddEvalAuth();
        builder.AddKeyProtection();
        builder.AddEvalCache();
        builder.AddEvalObservability();
        builder.AddEvalRateLimits();
        builder.Services.AddEvalHealth();
        // The API speaks snake_case JSON throughout, as its clients (and peers' SDKs) expect.
        builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.PropertyNamingPolicy = System.Text.Json.JsonNamingPolicy.SnakeCaseLower);
        builder.Services.AddProblemDetails();
        builder.Services.AddExceptionHandler<DomainExceptionHandler>();
        builder.Services.AddOpenApi(o => o.AddDocumentTransformer((document, _, _) =>
        {
            document.Info.Title = "EvalPlatform API";
            document.Info.Description = "Send traces, read them back, score them. Authenticate with a team API key: 'Authorization: Bearer <key>' or 'x-api-key: <key>'.";
            return Task.CompletedTask;
        }));
        builder.Services.AddOptions<IngestionOptions>().BindConfiguration(IngestionOptions.SectionName);
        builder.AddIngestionCors();
        builder.Services.AddOptions<ReviewQueueOptions>().BindConfiguration(ReviewQueueOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<AnalyticsOptions>().BindConfiguration(AnalyticsOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<Core.Retention.RetentionOptions>().BindConfiguration(Core.Retention.RetentionOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<Core.Caching.SettingsCacheOptions>().BindConfiguration(Core.Caching.SettingsCacheOptions.SectionName);
        builder.AddEvalNotifications();
        builder.AddEvalProviders();
        builder.AddEvalLangSmithConnector();
        builder.Services.AddSingleton<Core.Evaluators.IJudgeInputs, Evaluators.JudgeInputs>();
        builder.AddEvalProxy();
        builder.Services.AddHostedService<IngestionWriter>();
        builder.Services.AddHostedService<IngestionIssueWriter>();

        // After the ingestion writer: hosted services stop in reverse order, so the proxy's queued recordings are handed
        // to ingestion before it drains and stops.
        builder.Services.AddSingleton<ProxyRecordingWriter>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<ProxyRecordingWriter>());
        builder.Services.AddSingleton<SetupState>();
        builder.Services.AddScoped<SetupService>();
        builder.Services.AddOptions<SetupOptions>().BindConfiguration(SetupOptions.SectionName);
        builder.Services.AddSingleton<SetupToken>();
        // One year, subdomains included (ASVS 3.4.1); sent outside Development on HTTPS requests (behind a TLS proxy: X-Forwarded-Proto).
        builder.Services.AddHsts(o =>
        {
            o.MaxAge = TimeSpan.FromDays(365);
            o.IncludeSubDomains = true;
        });
        builder.Services.Configure<ForwardedHeadersOptions>(o =>
        {
            // Behind a TLS-terminating proxy the scheme comes from X-Forwarded-Proto (secure cookies, redirects), but only
            // from the proxies named in ForwardedHeaders:KnownProxies / KnownNetworks (loopback when none): anyone else could
            // claim HTTPS or another client address (ADR 35).
            o.ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto;
            ForwardedProxies.Configure(o, builder.Configuration);
        });
        return builder;
    }

    /// <summary>What the Razor components need besides Core: MudBlazor, Markdown, the clipboard.</summary>
    public static IServiceCollection AddEvalComponents(this IServiceCollection services)
    {
        services.AddMudServices(o =>
        {
            // Bottom left: clear of the review panel and of Previous/Next (top right), where toasts covered them (issue 13).
            o.SnackbarConfiguration.PositionClass = MudBlazor.Defaults.Classes.Position.BottomLeft;
        });
        services.AddSingleton<MarkdownRenderer>();
        services.AddScoped<Clipboard>();
        services.AddScoped<Playground.PlaygroundTraceLoader>();
        services.AddSingleton<Core.Playground.IPlaygroundTraceValues, Playground.PlaygroundTraceValues>();
        Palette.PaletteServiceCollectionExtensions.AddPaletteSources(services);
        // The dashboard's "What changed" findings; replaced by the trend service's where it is registered.
        services.TryAddScoped<Analytics.IDashboardTrends, Analytics.TrendServiceDashboardTrends>();
        return services;
    }

    /// <summary>
    /// Migrates (or, with migrations off, checks) the database and checks Redis. On failure it logs
    /// one line naming the setting to fix and returns false: the process exits instead of limping on.
    /// </summary>
    public static async Task<bool> PrepareInfrastructureAsync(this WebApplication app)
    {
        // Settings first: a half-configured Smtp section is one line, before the database is touched.
        try
        {
            _ = app.Services.GetRequiredService<IOptions<SmtpOptions>>().Value;
        }
        catch (OptionsValidationException e)
        {
            app.Logger.LogCritical("Cannot use the SMTP settings: {Reason}", string.Join(" ", e.Failures));
            return false;
        }

        var database = app.Services.GetRequiredService<DatabaseTarget>();
        await using (var scope = app.Services.CreateAsyncScope())
        {
            var migrator = scope.ServiceProvider.GetRequiredService<DatabaseMigrator>();
            var migrate = scope.ServiceProvider.GetRequiredService<IOptions<DatabaseOptions>>().Value.MigrateAtStart;
            try
            {
                if (migrate)
                {
                    await migrator.MigrateAsync();
                }
                else
                {
                    await migrator.CheckConnectionAsync();
                }
            }
            catch (Exception e) when (e is System.Data.Common.DbException or InvalidOperationException or ArgumentException or IOException or TimeoutException)
            {
                app.Logger.LogCritical(
                    "Cannot use the database ({Database}): {Reason} Fix the setting {Setting} (appsettings.json, or the environment variable {Variable}).",
                    database.Describe(), e.GetBaseException().Message, database.SettingName, database.SettingName.Replace(":", "__", StringComparison.Ordinal));
                return false;
            }
        }

        if (RedisConnection.IsConfigured(app.Configuration))
        {
            var reason = await RedisConnection.ProbeAsync(app.Services, TimeSpan.FromSeconds(5));
            if (reason is not null)
            {
                app.Logger.LogCritical(
                    "Cannot reach Redis: {Reason} Fix the setting {Setting} (or the environment variable ConnectionStrings__Redis), or leave it empty to run without Redis.",
                    reason, RedisConnection.SettingName);
                return false;
            }
        }

        // Hear the other nodes from the start (revoked API keys, live pages), not from first use.
        _ = app.Services.GetRequiredService<ILiveBus>();
        return true;
    }

    public static WebApplication UseEvalWeb(this WebApplication app)
    {
        app.UseForwardedHeaders();
        app.UseMiddleware<SecurityHeadersMiddleware>();
        app.UseMiddleware<HubOriginMiddleware>();
        app.UseExceptionHandler();
        // A page address that matches nothing shows "not found" in the app's frame; the API and other
        // machine addresses keep their problem details (issue 13: unknown URLs answered raw JSON).
        app.UseWhen(NotFoundPages.WantsPage, b => b.UseStatusCodePagesWithReExecute(NotFoundPages.Path, createScopeForStatusCodePages: true));
        app.UseWhen(c => !NotFoundPages.WantsPage(c), b => b.UseStatusCodePages());
        // Routing after the status code pages (not first, where WebApplication would put it): the re-executed
        // request for /not-found must be routed again to find its page.
        app.UseRouting();
        if (!app.Environment.IsDevelopment())
        {
            app.UseHsts();
        }

        app.UseMiddleware<FirstRunMiddleware>();
        // After routing (which WebApplication puts first), before authentication: a preflight is answered here, without a key.
        // Only endpoints with the ingestion policy have CORS (ADR 14); the middleware leaves every other request alone.
        app.UseCors();
        app.UseAuthentication();
        app.UseAuthorization();
        // After authorization, which settles the API key's principal: 429 before any handler work (ADR 36).
        app.UseMiddleware<RateLimitMiddleware>();
        app.UseAntiforgery();
        return app;
    }

    public static WebApplication MapEvalApi(this WebApplication app)
    {
        app.MapOpenApi("/openapi/{documentName}.json");
        // The browsable reference; its script is embedded in the package (no CDN at run time).
        app.MapScalarApiReference("/api/reference", o => o.WithTitle("EvalPlatform API").WithOpenApiRoutePattern("/openapi/{documentName}.json"));
        app.MapEvalHealth();
        app.MapEvalMetrics();
        var api = app.MapGroup("/api/v1").RequireAuthorization(ApiPolicies.AnyKey);
        api.MapTeamEndpoints();
        api.MapMemberEndpoints();
        api.MapTraceEndpoints();
        api.MapReviewEndpoints();
        api.MapExportEndpoints();
        api.MapQueueEndpoints();
        api.MapWebhookEndpoints();
        api.MapIngestionEndpoints();
        api.MapIngestionOriginEndpoints();
        api.MapAnalyticsEndpoints();
        api.MapTrendEndpoints();
        api.MapNotificationChannelEndpoints();
        api.MapAlertEndpoints();
        api.MapDigestEndpoints();
        api.MapRetentionEndpoints();
        api.MapExperimentEndpoints();
        api.MapAuditEndpoints();
        api.MapProviderEndpoints();
        api.MapProviderBudgetEndpoints();
        api.MapLangSmithConnectionEndpoints();
        api.MapEvaluatorEndpoints();
        api.MapBatchRunEndpoints();
        api.MapPlaygroundEndpoints();
        api.MapSavedViewEndpoints();

        // OTLP's own paths: exporters append /v1/traces to a base URL (the app's root, or /api/otel).
        app.MapOtlpEndpoints();

        // LangSmith's: the SDK appends /info, /runs… to LANGSMITH_ENDPOINT (<base>/api/langsmith).
        app.MapLangSmithEndpoints();

        // The recording proxy: SDKs take <base>/proxy/openai/v1 or <base>/proxy/anthropic as their base URL.
        app.MapProxyEndpoints();
        return app;
    }

    public static WebApplication MapEvalUi(this WebApplication app)
    {
        app.MapStaticAssets();
        app.MapGet("/", () => TypedResults.Redirect("/traces")).ExcludeFromDescription();
        app.MapAccountEndpoints();
        app.MapExportDownload();
        // frame-ancestors is in the app's own policy (SecurityHeadersMiddleware): no second CSP header from Blazor.
        app.MapRazorComponents<App>().AddInteractiveServerRenderMode(o => o.ContentSecurityFrameAncestorsPolicy = null);
        return app;
    }

    /// <summary>One friendly line with the address, once Kestrel listens.</summary>
    public static WebApplication LogWhereToBrowse(this WebApplication app)
    {
        app.Lifetime.ApplicationStarted.Register(() =>
        {
            var addresses = app.Urls.Count > 0 ? string.Join(", ", app.Urls) : "(see 'Now listening on' above)";
            var database = app.Services.GetRequiredService<DatabaseTarget>();
            app.Logger.LogInformation("EvalPlatform is running at {Addresses} on {Database}. Open it in a browser; the first visit sets up the first administrator.",
                addresses, database.Describe());
        });
        SetupToken.Announce(app);
        return app;
    }
}
