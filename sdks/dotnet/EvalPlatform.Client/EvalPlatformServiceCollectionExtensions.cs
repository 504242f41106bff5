using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EvalPlatform.Client;

/// <summary>Registering the EvalPlatform client.</summary>
public static class EvalPlatformServiceCollectionExtensions
{
    /// <summary>The name of the <see cref="HttpClient"/> the batcher takes from <c>IHttpClientFactory</c>.</summary>
    public const string HttpClientName = "EvalPlatform";

    /// <summary>
    /// Registers <see cref="IEvalPlatformClient"/> (explicit calls), <see cref="IEvalPlatformBatcher"/>
    /// (a singleton that sends traces in the background and flushes when the container is disposed,
    /// i.e. at host shutdown) and <see cref="IExperimentAssigner"/> (a singleton keeping the experiment definitions). Options come from the configuration section <c>EvalPlatform</c>, then
    /// from <paramref name="configure"/>; they are validated at start.
    /// </summary>
    public static IServiceCollection AddEvalPlatform(this IServiceCollection services, Action<EvalPlatformOptions>? configure = null)
    {
        var options = services.AddOptions<EvalPlatformOptions>()
            .Configure<IServiceProvider>((o, sp) => (sp.GetService(typeof(IConfiguration)) as IConfiguration)?.GetSection(EvalPlatformOptions.SectionName).Bind(o));
        if (configure is not null)
        {
            options.Configure(configure);
        }

        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<EvalPlatformOptions>, EvalPlatformOptionsValidator>());
        options.ValidateOnStart();

        services.AddHttpClient(HttpClientName, (sp, http) => http.Timeout = Timeout.InfiniteTimeSpan);
        services.AddHttpClient<IEvalPlatformClient, EvalPlatformClient>((sp, http) =>
            http.Timeout = sp.GetRequiredService<IOptions<EvalPlatformOptions>>().Value.RequestTimeout);

        services.TryAddSingleton(sp =>
        {
            var factory = sp.GetRequiredService<IHttpClientFactory>();

            // A client per batch, so connections follow DNS; but the container refuses new handler
            // scopes once its disposal began, which is exactly when the batcher flushes: then the
            // latest client (its handler still alive) sends the last batches.
            var latest = factory.CreateClient(HttpClientName);
            HttpClient NextClient()
            {
                try
                {
                    return latest = factory.CreateClient(HttpClientName);
                }
                catch (ObjectDisposedException)
                {
                    return latest;
                }
            }

            return new EvalPlatformBatcher(
                NextClient,
                sp.GetRequiredService<IOptions<EvalPlatformOptions>>().Value,
                sp.GetService<ILogger<EvalPlatformBatcher>>(),
                sp.GetService<TimeProvider>());
        });
        services.TryAddSingleton<IEvalPlatformBatcher>(sp => sp.GetRequiredService<EvalPlatformBatcher>());

        // One copy of the experiment definitions per process, shared by every caller of AssignAsync.
        services.TryAddSingleton(sp =>
        {
            var factory = sp.GetRequiredService<IHttpClientFactory>();
            return new ExperimentAssigner(
                () => factory.CreateClient(HttpClientName),
                sp.GetRequiredService<IOptions<EvalPlatformOptions>>().Value,
                sp.GetService<ILogger<ExperimentAssigner>>(),
                sp.GetService<TimeProvider>());
        });
        services.TryAddSingleton<IExperimentAssigner>(sp => sp.GetRequiredService<ExperimentAssigner>());
        return services;
    }

    /// <summary>Says which setting is wrong, instead of a generic failure.</summary>
    private sealed class EvalPlatformOptionsValidator : IValidateOptions<EvalPlatformOptions>
    {
        public ValidateOptionsResult Validate(string? name, EvalPlatformOptions options) =>
            options.Validate() is { Count: > 0 } problems ? ValidateOptionsResult.Fail(problems) : ValidateOptionsResult.Success;
    }
}
