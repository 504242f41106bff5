using EvalPlatform.Tests.Infrastructure;

namespace EvalPlatform.Tests.Integration.Hosting;

/// <summary>A server that cannot reach its database exits at once with one line naming the setting to fix.</summary>
public sealed class StartupFailureTests
{
    [Fact]
    public async Task UnreachablePostgres_ExitsWithOneLineNamingTheSetting()
    {
        var result = await AppProcess.RunAsync([], new Dictionary<string, string>
        {
            ["ConnectionStrings__Postgres"] = "Host=127.0.0.1;Port=1;Database=nowhere;Username=eval;Password=x;Timeout=3",
        });

        Assert.Equal(1, result.ExitCode);
        var critical = Assert.Single((result.Stdout + result.Stderr).Split('\n'), l => l.Contains("Cannot use the database", StringComparison.Ordinal));
        Assert.Contains("ConnectionStrings:Postgres", critical, StringComparison.Ordinal);
        Assert.Contains("127.0.0.1:1", critical, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", result.Stdout + result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnreachableRedis_ExitsWithOneLineNamingTheSetting()
    {
        var folder = Directory.CreateTempSubdirectory("evalstart-").FullName;
        try
        {
            var result = await AppProcess.RunAsync([], new Dictionary<string, string>
            {
                ["ConnectionStrings__Sqlite"] = $"Data Source={folder}/eval.db",
                ["ConnectionStrings__Redis"] = "127.0.0.1:1,connectTimeout=1000",
            });

            Assert.Equal(1, result.ExitCode);
            var critical = Assert.Single((result.Stdout + result.Stderr).Split('\n'), l => l.Contains("Cannot reach Redis", StringComparison.Ordinal));
            Assert.Contains("ConnectionStrings:Redis", critical, StringComparison.Ordinal);
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(folder, recursive: true);
        }
    }
}
