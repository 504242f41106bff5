using EvalPlatform.Core.Common;
using EvalPlatform.Core.Teams;
using EvalPlatform.Data;
using EvalPlatform.Data.Identity;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;

namespace EvalPlatform.Web.Setup;

/// <summary>
/// Whether the first administrator exists yet. Once true it stays true, so after set-up the
/// check costs nothing; until then each request asks the database.
/// </summary>
public sealed class SetupState(IServiceScopeFactory scopes)
{
    private volatile bool _complete;

    /// <summary>One set-up at a time on this node; across nodes the database decides (<see cref="SetupService"/>).</summary>
    internal SemaphoreSlim Gate { get; } = new(1, 1);

    public async Task<bool> IsCompleteAsync(CancellationToken ct = default)
    {
        if (_complete)
        {
            return true;
        }

        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<EvalDbContext>();
        _complete = await db.Users.AnyAsync(ct);
        return _complete;
    }

    internal void MarkComplete() => _complete = true;
}

/// <summary>What the first-run page asks for; <paramref name="Token"/> is the one-time set-up token from the server's log.</summary>
public sealed record SetupRequest(string TeamName, string Email, string Password, string? DisplayName, string? Token = null);

/// <summary>
/// Creates the first administrator and their team, once: only with the set-up token (<see cref="SetupToken"/>), the
/// user, the team and the membership in one transaction, and on PostgreSQL under a transaction-scoped advisory lock
/// with the "nobody yet" check inside it, so two nodes set up at the same moment make one Owner; the other is refused
/// (ADR 35). SQLite is one process's file: the node's gate serialises it.
/// </summary>
public sealed class SetupService(SetupState state, SetupToken token, UserManager<ApplicationUser> users, EvalDbContext db, DatabaseTarget target, TimeProvider clock)
{
    /// <summary>The refusal once somebody has set up EvalPlatform (on this node or another).</summary>
    public const string AlreadySetUp = "EvalPlatform is already set up. Sign in instead.";

    // Any fixed number: the lock that makes set-up one at a time across the installation's nodes.
    private const long SetupLockKey = 0x45_76_61_6C_53_65_74_55;

    /// <summary>Returns the problems by field; empty when set-up is done.</summary>
    public async Task<IReadOnlyDictionary<string, string>> CompleteAsync(SetupRequest request, CancellationToken ct = default)
    {
        await state.Gate.WaitAsync(ct);
        try
        {
            if (await state.IsCompleteAsync(ct))
            {
                return new Dictionary<string, string> { [""] = AlreadySetUp };
            }

            if (!token.Matches(request.Token))
            {
                return new Dictionary<string, string> { ["Token"] = "This is not the set-up token. It is printed in the server's log at start (or set as Setup:Token)." };
            }

            return await CreateOwnerAsync(request, ct);
        }
        finally
        {
            state.Gate.Release();
        }
    }

    private async Task<IReadOnlyDictionary<string, string>> CreateOwnerAsync(SetupRequest request, CancellationToken ct)
    {
        string teamName;
        try
        {
            teamName = Require.Text("TeamName", request.TeamName, TeamService.MaxNameLength);
        }
        catch (DomainValidationException e)
        {
            return new Dictionary<string, string> { [e.Field] = e.Message };
        }

        var user = new ApplicationUser
        {
            UserName = request.Email.Trim(),
            Email = request.Email.Trim(),
            EmailConfirmed = true,
            DisplayName = string.IsNullOrWhiteSpace(request.DisplayName) ? null : request.DisplayName.Trim(),
            CreatedAt = clock.GetUtcNow(),
        };
        // UserManager saves through this same scoped context, so the user, the team and the membership share the transaction.
        await using var transaction = await db.Database.BeginTransactionAsync(ct);
        if (target.Provider == DatabaseProvider.Postgres)
        {
            await db.Database.ExecuteSqlRawAsync("SELECT pg_advisory_xact_lock({0})", [SetupLockKey], ct);
        }

        // Inside the lock: a node that waited for another's set-up sees its user now.
        if (await db.Users.AnyAsync(ct))
        {
            state.MarkComplete();
            return new Dictionary<string, string> { [""] = AlreadySetUp };
        }

        var created = await users.CreateAsync(user, request.Password);
        if (!created.Succeeded)
        {
            // Several errors can land on one field (e.g. invalid user name and invalid email): join them.
            return created.Errors
                .GroupBy(e => e.Code.Contains("Password", StringComparison.Ordinal) ? "Password" : "Email", StringComparer.Ordinal)
                .ToDictionary(g => g.Key, g => string.Join(" ", g.Select(e => e.Description)), StringComparer.Ordinal);
        }

        var now = clock.GetUtcNow();
        var team = new Team { Id = Uuid7.Create(now), Name = teamName, NormalizedName = Team.Normalize(teamName), CreatedAt = now };
        // First run: nobody acts in any team yet; the first team and its owner are made here, once.
        db.AllowCrossTeamWrites();
        db.Teams.Add(team);
        db.TeamMembers.Add(new TeamMember
        {
            Id = Uuid7.Create(now), TeamId = team.Id, UserId = user.Id, Role = TeamRole.Owner, CreatedAt = now, LastSelectedAt = now,
        });
        await db.SaveChangesAsync(ct);
        await transaction.CommitAsync(ct);
        state.MarkComplete();
        return new Dictionary<string, string>();
    }
}

/// <summary>Until the first administrator exists, every page sends the visitor to the first-run page.</summary>
public sealed class FirstRunMiddleware(RequestDelegate next)
{
    public const string SetupPath = "/setup";

    public async Task InvokeAsync(HttpContext context, SetupState state)
    {
        if (IsPage(context.Request) && !await state.IsCompleteAsync(context.RequestAborted))
        {
            context.Response.Redirect(SetupPath);
            return;
        }

        await next(context);
    }

    private static bool IsPage(HttpRequest request)
    {
        var path = request.Path;
        if (!HttpMethods.IsGet(request.Method) || path.StartsWithSegments(SetupPath))
        {
            return false;
        }

        string[] passThrough = ["/_framework", "/_content", "/_blazor", "/api", "/health", "/openapi", "/v1"];
        return !passThrough.Any(p => path.StartsWithSegments(p, StringComparison.OrdinalIgnoreCase))
            && !Path.HasExtension(path.Value);
    }
}
