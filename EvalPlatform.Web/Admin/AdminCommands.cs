using EvalPlatform.Core.Common;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Teams;
using EvalPlatform.Data;
using EvalPlatform.Data.Identity;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Web.Notifications;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Options;

namespace EvalPlatform.Web.Admin;

/// <summary>The admin commands. Each returns 0, or non-zero after one line on stderr saying why.</summary>
public sealed class AdminCommands(
    DatabaseMigrator migrator,
    DatabaseTarget database,
    TeamService teams,
    UserManager<ApplicationUser> users,
    IEvalDbContextFactory dbFactory,
    TeamContext teamContext,
    InvitationService invitations,
    IOptions<AppOptions> app,
    TimeProvider clock)
{
    public const string Usage = """
        Usage: EvalPlatform.Web admin <command> [options]
          migrate                                          apply pending database migrations
          create-team --name NAME --owner EMAIL [--password-stdin]
                                                           create a team owned by EMAIL (a new user needs --password-stdin)
          create-api-key --team NAME --name KEY --scopes ingest,read,review,admin
                                                           print a new key once, alone on stdout
          list-teams                                       list teams, members and active keys
          reset-password --email E --password-stdin        set a user's password (read from stdin), unlock them, end their sessions
          invite --team NAME --email E --role reviewer|viewer|admin [--base-url URL]
                                                           print a new invitation link alone on stdout (base: --base-url or App:PublicBaseUrl)
        """;

    public async Task<int> RunAsync(string[] args, TextReader stdin, TextWriter stdout, TextWriter stderr)
    {
        if (args.Length == 0 || args[0] is "help" or "--help" or "-h")
        {
            await stderr.WriteLineAsync(Usage);
            return args.Length == 0 ? 2 : 0;
        }

        try
        {
            var options = ParseOptions(args.Skip(1));
            return args[0] switch
            {
                "migrate" => await MigrateAsync(stdout),
                "create-team" => await CreateTeamAsync(options, stdin, stdout),
                "create-api-key" => await CreateApiKeyAsync(options, stdout),
                "list-teams" => await ListTeamsAsync(stdout),
                "reset-password" => await ResetPasswordAsync(options, stdin, stdout),
                "invite" => await InviteAsync(options, stdout),
                _ => throw new AdminUsageException($"Unknown command '{args[0]}'. Run 'admin help' for the list."),
            };
        }
        catch (AdminUsageException e)
        {
            await stderr.WriteLineAsync($"error: {e.Message}");
            return 2;
        }
        catch (Exception e) when (e is DomainValidationException or ConflictException or NotFoundException or PermissionDeniedException)
        {
            await stderr.WriteLineAsync($"error: {e.Message}");
            return 1;
        }
        catch (Exception e) when (e is System.Data.Common.DbException or InvalidOperationException)
        {
            await stderr.WriteLineAsync($"error: cannot use {database.Describe()}: {e.GetBaseException().Message} (check {database.SettingName})");
            return 1;
        }
    }

    private async Task<int> MigrateAsync(TextWriter stdout)
    {
        var applied = await migrator.MigrateAsync();
        await stdout.WriteLineAsync(applied.Count == 0
            ? $"{database.Describe()} is up to date."
            : $"Applied {applied.Count} migration(s) to {database.Describe()}: {string.Join(", ", applied)}");
        return 0;
    }

    private async Task<int> CreateTeamAsync(Dictionary<string, string?> options, TextReader stdin, TextWriter stdout)
    {
        var name = Required(options, "name");
        var email = Required(options, "owner");
        var readPassword = options.ContainsKey("password-stdin");
        await migrator.MigrateAsync();
        if (await teams.FindTeamByNameAsync(name) is not null)
        {
            throw new ConflictException($"A team named '{name}' already exists.");
        }

        var user = await users.FindByEmailAsync(email);
        if (user is null)
        {
            if (!readPassword)
            {
                throw new AdminUsageException($"No user '{email}' exists yet: pass --password-stdin and pipe their password in.");
            }

            var password = (await stdin.ReadLineAsync())?.TrimEnd('\r', '\n') ?? "";
            user = new ApplicationUser { UserName = email, Email = email, EmailConfirmed = true, CreatedAt = clock.GetUtcNow() };
            var created = await users.CreateAsync(user, password);
            if (!created.Succeeded)
            {
                throw new DomainValidationException("owner", string.Join(" ", created.Errors.Select(e => e.Description)));
            }
        }
        else if (readPassword)
        {
            throw new AdminUsageException($"User '{email}' already exists; leave out --password-stdin to make them owner of the new team.");
        }

        var team = await teams.CreateTeamAsync(name, user.Id);
        await stdout.WriteLineAsync($"Created team '{team.Name}' ({team.Id}) owned by {email}.");
        return 0;
    }

    private async Task<int> CreateApiKeyAsync(Dictionary<string, string?> options, TextWriter stdout)
    {
        var teamName = Required(options, "team");
        var keyName = Required(options, "name");
        if (!ApiKeyScopesText.TryParse(Required(options, "scopes"), out var scopes, out var unknown))
        {
            throw new AdminUsageException(unknown is null
                ? "--scopes needs at least one of ingest, read, review, admin."
                : $"Unknown scope '{unknown}': use ingest, read, review, admin.");
        }

        var team = await teams.FindTeamByNameAsync(teamName) ?? throw new NotFoundException($"No team named '{teamName}'.");
        // The operator acts for the named team, as `admin invite` does: the write guard then sees the key's own team.
        teamContext.SetApiKey(team.Id, Guid.Empty, ApiKeyScopes.Admin);
        var created = await ApiKeyService.IssueAsync(dbFactory, clock, team.Id, keyName, scopes, createdBy: null);
        await stdout.WriteLineAsync(created.Key);
        return 0;
    }

    private async Task<int> ResetPasswordAsync(Dictionary<string, string?> options, TextReader stdin, TextWriter stdout)
    {
        var email = Required(options, "email");
        if (!options.ContainsKey("password-stdin"))
        {
            throw new AdminUsageException("--password-stdin is required: pipe the new password in (never on the command line).");
        }

        var user = await users.FindByEmailAsync(email) ?? throw new NotFoundException($"No user '{email}'.");
        var password = (await stdin.ReadLineAsync())?.TrimEnd('\r', '\n') ?? "";
        // A reset token changes the security stamp too: every session of the account ends.
        var reset = await users.ResetPasswordAsync(user, await users.GeneratePasswordResetTokenAsync(user), password);
        if (!reset.Succeeded)
        {
            throw new DomainValidationException("password", string.Join(" ", reset.Errors.Select(e => e.Description)));
        }

        await users.SetLockoutEndDateAsync(user, null);
        await users.ResetAccessFailedCountAsync(user);
        await stdout.WriteLineAsync($"Password reset for {user.Email}; their sessions are signed out.");
        return 0;
    }

    private async Task<int> InviteAsync(Dictionary<string, string?> options, TextWriter stdout)
    {
        var teamName = Required(options, "team");
        var email = Required(options, "email");
        var role = Required(options, "role") switch
        {
            "viewer" => TeamRole.Viewer,
            "reviewer" => TeamRole.Reviewer,
            "admin" => TeamRole.Admin,
            var other => throw new AdminUsageException($"Unknown role '{other}': use reviewer, viewer or admin."),
        };
        var baseUrl = options.GetValueOrDefault("base-url") ?? app.Value.PublicBaseUrl;
        if (string.IsNullOrWhiteSpace(baseUrl) || !Uri.TryCreate(baseUrl, UriKind.Absolute, out var appBase) || appBase.Scheme is not ("http" or "https"))
        {
            throw new AdminUsageException("The link needs the address people reach the app at: pass --base-url https://eval.example.com or set App:PublicBaseUrl.");
        }

        var team = await teams.FindTeamByNameAsync(teamName) ?? throw new NotFoundException($"No team named '{teamName}'.");
        // The operator is trusted as the database itself is; they invite with an admin key's rights (never an Owner).
        teamContext.SetApiKey(team.Id, Guid.Empty, ApiKeyScopes.Admin);
        var issued = await invitations.InviteAsync(email, role, appBase);
        await stdout.WriteLineAsync(issued.Link);
        return 0;
    }

    private async Task<int> ListTeamsAsync(TextWriter stdout)
    {
        var list = await teams.ListTeamsAsync();
        if (list.Count == 0)
        {
            await stdout.WriteLineAsync("No teams yet.");
            return 0;
        }

        await stdout.WriteLineAsync($"{"NAME",-32} {"ID",-36} {"MEMBERS",7} {"KEYS",5} CREATED");
        foreach (var t in list)
        {
            await stdout.WriteLineAsync($"{t.Name,-32} {t.Id,-36} {t.Members,7} {t.ActiveApiKeys,5} {t.CreatedAt:yyyy-MM-dd}");
        }

        return 0;
    }

    private static Dictionary<string, string?> ParseOptions(IEnumerable<string> args)
    {
        var options = new Dictionary<string, string?>(StringComparer.Ordinal);
        using var e = args.GetEnumerator();
        string? pending = null;
        while (e.MoveNext())
        {
            var arg = e.Current;
            if (arg.StartsWith("--", StringComparison.Ordinal))
            {
                if (pending is not null)
                {
                    options[pending] = null;
                }

                var eq = arg.IndexOf('=', StringComparison.Ordinal);
                if (eq > 0)
                {
                    options[arg[2..eq]] = arg[(eq + 1)..];
                    pending = null;
                }
                else
                {
                    pending = arg[2..];
                }
            }
            else if (pending is not null)
            {
                options[pending] = arg;
                pending = null;
            }
            else
            {
                throw new AdminUsageException($"Unexpected argument '{arg}'.");
            }
        }

        if (pending is not null)
        {
            options[pending] = null;
        }

        return options;
    }

    private static string Required(Dictionary<string, string?> options, string name) =>
        options.TryGetValue(name, out var value) && !string.IsNullOrWhiteSpace(value)
            ? value
            : throw new AdminUsageException($"--{name} is required. Run 'admin help' for the usage.");
}

internal sealed class AdminUsageException(string message) : Exception(message);
