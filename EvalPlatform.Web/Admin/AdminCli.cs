using EvalPlatform.Core;
using EvalPlatform.Data;
using EvalPlatform.Web.Auth;
using EvalPlatform.Web.Hosting;

namespace EvalPlatform.Web.Admin;

/// <summary>
/// <c>EvalPlatform.Web admin &lt;command&gt;</c>: unattended set-up for containers and scripts. Uses the
/// same configuration as the server; logs go to stderr so that stdout carries only the result.
/// </summary>
public static class AdminCli
{
    public static bool IsAdminCommand(string[] args) => args.Length > 0 && args[0] == "admin";

    public static async Task<int> RunAsync(string[] args, TextReader? stdin = null, TextWriter? stdout = null, TextWriter? stderr = null)
    {
        stdin ??= Console.In;
        stdout ??= Console.Out;
        stderr ??= Console.Error;

        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = [] });
        builder.AddEvalConfiguration([]);
        builder.Logging.ClearProviders();
        builder.Logging.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.AddEvalData();
        builder.Services.AddEvalCore();
        builder.Services.AddEvalIdentityCore(builder.Configuration.GetSection(AuthOptions.SectionName).Get<AuthOptions>() ?? new AuthOptions());
        builder.Services.AddOptions<Notifications.AppOptions>().BindConfiguration(Notifications.AppOptions.SectionName);
        Notifications.NotificationsServiceCollectionExtensions.AddEvalEmail(builder.Services);
        builder.Services.AddScoped<AdminCommands>();

        await using var app = builder.Build();
        await using var scope = app.Services.CreateAsyncScope();
        var commands = scope.ServiceProvider.GetRequiredService<AdminCommands>();
        return await commands.RunAsync(args.Skip(1).ToArray(), stdin, stdout, stderr);
    }
}
