namespace EvalPlatform.Web.Hosting;

internal static class ConfigurationExtensions
{
    /// <summary>
    /// The operator's appsettings.json sits at the repository root and is copied beside the binary.
    /// When the working directory has none (the binary started from elsewhere), read the copy,
    /// then environment variables and the command line again so they still override it.
    /// </summary>
    public static WebApplicationBuilder AddEvalConfiguration(this WebApplicationBuilder builder, string[] args)
    {
        // Serve static web assets from an unpublished build in every environment, so that
        // `dotnet run` works without ASPNETCORE_ENVIRONMENT=Development (a published build has none to map).
        builder.WebHost.UseStaticWebAssets();

        var inContentRoot = Path.Combine(builder.Environment.ContentRootPath, "appsettings.json");
        var besideBinary = Path.Combine(AppContext.BaseDirectory, "appsettings.json");
        if (!File.Exists(inContentRoot) && File.Exists(besideBinary))
        {
            builder.Configuration.AddJsonFile(besideBinary, optional: true, reloadOnChange: false);
            builder.Configuration.AddEnvironmentVariables();
            builder.Configuration.AddCommandLine(args);
        }

        return builder;
    }
}
