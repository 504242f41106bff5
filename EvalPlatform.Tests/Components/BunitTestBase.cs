using Bunit;
using EvalPlatform.Core;
using EvalPlatform.Data;
using EvalPlatform.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using EvalPlatform.Web.Hosting;

namespace EvalPlatform.Tests.Components;

/// <summary>
/// bUnit with MudBlazor and the real Core services on a fresh SQLite file: components are tested
/// against what they really call, not against mocks.
/// </summary>
public abstract class BunitTestBase : BunitContext, IAsyncLifetime
{
    private readonly string _folder = Directory.CreateTempSubdirectory("evalbunit-").FullName;

    protected BunitTestBase()
    {
        JSInterop.Mode = JSRuntimeMode.Loose;
        Services.AddEvalComponents();
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["ConnectionStrings:Sqlite"] = $"Data Source={Path.Combine(_folder, "eval.db")}" })
            .Build();
        Services.AddSingleton<IConfiguration>(configuration);
        Services.AddLogging();
        Services.AddEvalData(configuration);
        Services.AddEvalCore();
        Services.AddHybridCache(); // the settings cache's first level (the app adds Redis behind it)
        Web.Notifications.NotificationsServiceCollectionExtensions.AddEvalEmail(Services);
        Web.Auth.AuthServiceCollectionExtensions.AddEvalIdentityCore(Services, new Web.Auth.AuthOptions());
    }

    public virtual async Task InitializeAsync() => await Services.GetRequiredService<DatabaseMigrator>().MigrateAsync();

    /// <summary>Stops what a test class started (before the services go away).</summary>
    protected virtual Task CleanupAsync() => Task.CompletedTask;

    async Task IAsyncLifetime.DisposeAsync()
    {
        await CleanupAsync();
        await DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        await DeleteFolderAsync();
    }

    /// <summary>
    /// A page's refresh that a live event started just before the test ended can still open the
    /// database file (SQLite then creates its journal) while the folder is being removed: try
    /// again for a moment instead of failing a test that passed over its temporary folder.
    /// </summary>
    private Task DeleteFolderAsync() =>
        Wait.UntilAsync(() =>
        {
            try
            {
                Directory.Delete(_folder, recursive: true);
                return true;
            }
            catch (IOException)
            {
                Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
                return false;
            }
        }, $"the test's folder {_folder} to be removed", TimeSpan.FromSeconds(5));
}
