using EvalPlatform.Core.LangSmith.Connector;
using EvalPlatform.Core.Outbound;

namespace EvalPlatform.Web.LangSmith;

public static class LangSmithConnectorServiceCollectionExtensions
{
    /// <summary>
    /// The LangSmith connector (issue 18): its <c>LangSmithImport</c> options and the HttpClient of <see cref="LangSmithClient"/>,
    /// whose every connection passes the SSRF guard.
    /// </summary>
    public static WebApplicationBuilder AddEvalLangSmithConnector(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<LangSmithImportOptions>().BindConfiguration(LangSmithImportOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddHttpClient<LangSmithClient>((sp, http) =>
                http.Timeout = TimeSpan.FromSeconds(Math.Max(30, sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<OutboundOptions>>().Value.TimeoutSeconds)))
            .ConfigurePrimaryHttpMessageHandler(sp => sp.GetRequiredService<OutboundGuard>().CreateHandler());
        return builder;
    }
}
