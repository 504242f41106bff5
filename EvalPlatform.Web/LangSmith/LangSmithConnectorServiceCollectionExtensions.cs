using EvalPlatform.Core.LangSmith.Connector;
using EvalPlatform.Core.Outbound;
using Microsoft.Extensions.Options;

namespace EvalPlatform.Web.LangSmith;

public static class LangSmithConnectorServiceCollectionExtensions
{
    /// <summary>
    /// The LangSmith connector (issue 18): its <c>LangSmithImport</c> options and the HttpClient of <see cref="LangSmithClient"/>,
    /// whose every connection passes the SSRF guard.
    /// </summary>
    public static WebApplicationBuilder AddEvalLangSmithConnector(this WebApplicationBuilder builder)
    {
        builder.Services.AddEvalLangSmithConnectorClients();
        return builder;
    }

    /// <summary>The registrations of <see cref="AddEvalLangSmithConnector"/> on a bare service collection (component tests use them).</summary>
    public static IServiceCollection AddEvalLangSmithConnectorClients(this IServiceCollection services)
    {
        services.AddOptions<LangSmithImportOptions>().BindConfiguration(LangSmithImportOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        services.AddHttpClient<LangSmithClient>((sp, http) =>
                http.Timeout = TimeSpan.FromSeconds(Math.Max(30, sp.GetRequiredService<IOptions<OutboundOptions>>().Value.TimeoutSeconds)))
            .ConfigurePrimaryHttpMessageHandler(sp => sp.GetRequiredService<OutboundGuard>().CreateHandler());
        // Feedback to LangSmith leaves through the outbox as an integration delivery; registered beside the client it needs.
        services.AddScoped<LangSmithFeedbackDelivery>();
        services.AddScoped<Core.Notifications.IIntegrationDelivery>(sp => sp.GetRequiredService<LangSmithFeedbackDelivery>());
        return services;
    }
}
