using EvalPlatform.Core.Teams;
using EvalPlatform.Data.Identity;
using EvalPlatform.Tests.Infrastructure;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.DependencyInjection;

namespace EvalPlatform.Tests.Integration.Members;

/// <summary><c>admin invite</c> and <c>admin reset-password</c>, run as a separate process against the app's PostgreSQL database.</summary>
public sealed class MemberCommandTests(PostgresAppFactory app) : IClassFixture<PostgresAppFactory>
{
    private Dictionary<string, string> Env => new() { ["ConnectionStrings__Postgres"] = app.ConnectionString };

    [Fact]
    public async Task Invite_PrintsOnlyTheLink_WhichInvitesWithTheRole()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        var email = $"{TestData.Unique("cli")}@example.test";

        var result = await AppProcess.RunAsync(
            ["admin", "invite", "--team", team.Name, "--email", email, "--role", "reviewer", "--base-url", "https://eval.example.test"], Env);

        Assert.True(result.ExitCode == 0, result.Stderr);
        var line = Assert.Single(result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Matches("^https://eval.example.test/invite/inv_[A-Za-z0-9_-]{43}$", line);
        await using var scope = app.Services.CreateAsyncScope();
        var preview = await scope.ServiceProvider.GetRequiredService<InvitationService>().PreviewAsync(line[(line.LastIndexOf('/') + 1)..]);
        Assert.Equal(new InvitationPreview(InvitationCheck.Valid, team.Name, email, TeamRole.Reviewer), preview);
    }

    [Fact]
    public async Task ResetPassword_SetsThePasswordFromStdin_AndEndsSessions()
    {
        var user = await TestData.CreateUserAsync(app.Services);
        string stampBefore;
        await using (var scope = app.Services.CreateAsyncScope())
        {
            stampBefore = (await scope.ServiceProvider.GetRequiredService<UserManager<ApplicationUser>>().FindByIdAsync(user.Id))!.SecurityStamp!;
        }

        var result = await AppProcess.RunAsync(["admin", "reset-password", "--email", user.Email!, "--password-stdin"], Env, stdin: "a brand new passphrase");

        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Contains($"Password reset for {user.Email}", result.Stdout, StringComparison.Ordinal);
        await using (var scope = app.Services.CreateAsyncScope())
        {
            var users = scope.ServiceProvider.GetRequiredService<UserManager<ApplicationUser>>();
            var after = (await users.FindByIdAsync(user.Id))!;
            Assert.True(await users.CheckPasswordAsync(after, "a brand new passphrase"));
            Assert.False(await users.CheckPasswordAsync(after, TestData.Password));
            Assert.NotEqual(stampBefore, after.SecurityStamp);
        }
    }

    [Theory]
    [InlineData("invite --team x --email a@example.test --role owner --base-url https://e.test", 2, "Unknown role 'owner'")]
    [InlineData("invite --team x --email a@example.test --role viewer", 2, "--base-url")]
    [InlineData("invite --team nobody-here --email a@example.test --role viewer --base-url https://e.test", 1, "No team named 'nobody-here'")]
    [InlineData("reset-password --email nobody@example.test --password-stdin", 1, "No user 'nobody@example.test'")]
    [InlineData("reset-password --email nobody@example.test", 2, "--password-stdin is required")]
    public async Task BadCommands_ExitNonZero_WithOneLineSayingWhy(string command, int exitCode, string reason)
    {
        var result = await AppProcess.RunAsync(["admin", .. command.Split(' ')], Env, stdin: "whatever long password");

        Assert.Equal(exitCode, result.ExitCode);
        Assert.Empty(result.Stdout);
        var error = Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains(reason, error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ResetPassword_WithATooShortPassword_IsRefused()
    {
        var user = await TestData.CreateUserAsync(app.Services);

        var result = await AppProcess.RunAsync(["admin", "reset-password", "--email", user.Email!, "--password-stdin"], Env, stdin: "short");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("at least 12", result.Stderr, StringComparison.Ordinal);
    }
}
