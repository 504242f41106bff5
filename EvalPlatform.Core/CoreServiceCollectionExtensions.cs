using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace EvalPlatform.Core;

public static class CoreServiceCollectionExtensions
{
    /// <summary>Registers the domain services; one line per feature.</summary>
    public static IServiceCollection AddEvalCore(this IServiceCollection services)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.AddScoped<TeamContext>();
        services.AddScoped<ITeamContext>(sp => sp.GetRequiredService<TeamContext>());
        services.AddTeams();
        return services;
    }

    private static IServiceCollection AddTeams(this IServiceCollection services)
    {
        services.AddScoped<TeamService>();
        services.AddScoped<ApiKeyService>();
        services.AddScoped<ApiKeyAuthenticator>();
        return services;
    }
}
