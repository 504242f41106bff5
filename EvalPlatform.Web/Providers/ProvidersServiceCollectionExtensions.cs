using EvalPlatform.Core.Outbound;
using EvalPlatform.Core.Providers;

namespace EvalPlatform.Web.Providers;

public static class ProvidersServiceCollectionExtensions
{
    /// <summary>The HttpClient every call to a provider goes through: each connection passes the SSRF guard.</summary>
    public const string HttpClientName = "providers";

    /// <summary>
    /// The platform's own calls to models (ADR 29): Betalgo.Ranul.OpenAI for OpenAI and compatible servers, the Anthropic
    /// package for Anthropic, both over <see cref="HttpClientName"/>; the <c>Providers</c> section; model discovery.
    /// </summary>
    public static WebApplicationBuilder AddEvalProviders(this WebApplicationBuilder builder)
    {
        builder.Services.AddEvalProviderClients();
        return builder;
    }

    /// <summary>The registrations of <see cref="AddEvalProviders"/> on a bare service collection (component tests use them).</summary>
    public static IServiceCollection AddEvalProviderClients(this IServiceCollection services)
    {
        services.AddOptions<ProviderOptions>().BindConfiguration(ProviderOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        // No HttpClient timeout: each call has its own (Providers:TimeoutSeconds), which a long stream needs.
        services.AddHttpClient(HttpClientName, http => http.Timeout = Timeout.InfiniteTimeSpan)
            .ConfigurePrimaryHttpMessageHandler(sp => sp.GetRequiredService<OutboundGuard>().CreateHandler());
        services.AddScoped<OpenAiBackend>();
        services.AddScoped<AnthropicBackend>();
        services.AddScoped<ILlmChat, LlmChat>();
        services.AddScoped<IProviderModels, ProviderModels>();
        return services;
    }
}
