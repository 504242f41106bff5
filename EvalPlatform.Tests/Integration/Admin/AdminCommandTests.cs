using System.Net.Http.Headers;
using EvalPlatform.Tests.Infrastructure;

namespace EvalPlatform.Tests.Integration.Admin;

/// <summary>The admin commands, run as a separate process against the app's PostgreSQL database.</summary>
public sealed class AdminCommandTests(PostgresAppFactory app) : IClassFixture<PostgresAppFactory>
{
    private Dictionary<string, string> Env => new() { ["ConnectionStrings__Postgres"] = app.ConnectionString };

    [Fact]
    public async Task CreateTeam_ThenCreateApiKey_PrintsOnlyTheKey_WhichWorks()
    {
        var team = TestData.Unique("cli-team");
        var created = await AppProcess.RunAsync(
            ["admin", "create-team", "--name", team, "--owner", $"{team}@example.test", "--password-stdin"], Env, stdin: TestData.Password);
        Assert.True(created.ExitCode == 0, created.Stderr);
        Assert.Contains($"Created team '{team}'", created.Stdout, StringComparison.Ordinal);

        var key = await AppProcess.RunAsync(["admin", "create-api-key", "--team", team, "--name", "ci", "--scopes", "ingest,read"], Env);
        Assert.True(key.ExitCode == 0, key.Stderr);
        var line = Assert.Single(key.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Matches("^ep_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$", line);

        using var client = app.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", line);
        var whoami = await client.GetStringAsync("/api/v1/whoami");
        Assert.Contains(team, whoami, StringComparison.Ordinal);
        Assert.Contains("\"ingest\",\"read\"", whoami, StringComparison.Ordinal);

        var list = await AppProcess.RunAsync(["admin", "list-teams"], Env);
        Assert.Equal(0, list.ExitCode);
        var row = Assert.Single(list.Stdout.Split('\n'), l => l.StartsWith(team, StringComparison.Ordinal));
        Assert.Matches(@"\s1\s+1\s", row);
    }

    [Theory]
    [InlineData("create-api-key --team nobody-here --name k --scopes read", 1, "No team named 'nobody-here'")]
    [InlineData("create-api-key --team x --name k --scopes read,write", 2, "Unknown scope 'write'")]
    [InlineData("create-api-key --team x --name k", 2, "--scopes is required")]
    [InlineData("create-team --name t --owner new-user@example.test", 2, "--password-stdin")]
    [InlineData("frobnicate", 2, "Unknown command 'frobnicate'")]
    public async Task BadCommands_ExitNonZero_WithOneLineSayingWhy(string command, int exitCode, string reason)
    {
        var result = await AppProcess.RunAsync(["admin", .. command.Split(' ')], Env);

        Assert.Equal(exitCode, result.ExitCode);
        Assert.Empty(result.Stdout);
        var error = Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains(reason, error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Migrate_OnAnUpToDateDatabase_SaysSo()
    {
        var result = await AppProcess.RunAsync(["admin", "migrate"], Env);

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("is up to date", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Migrate_OnAFreshSqliteFile_CreatesTheSchema()
    {
        var folder = Directory.CreateTempSubdirectory("evalcli-").FullName;
        try
        {
            var env = new Dictionary<string, string> { ["ConnectionStrings__Sqlite"] = $"Data Source={folder}/nested/eval.db" };
            var result = await AppProcess.RunAsync(["admin", "migrate"], env);

            Assert.True(result.ExitCode == 0, result.Stderr);
            Assert.Matches(@"Applied \d+ migration\(s\)", result.Stdout);
            Assert.True(File.Exists(Path.Combine(folder, "nested", "eval.db")));
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(folder, recursive: true);
        }
    }
}
