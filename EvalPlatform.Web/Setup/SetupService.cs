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

/// <summary>What the first-run page asks for.</summary>
public sealed record SetupRequest(string TeamName, string Email, string Password, string? DisplayName);

/// <summary>Creates the first administrator and their team, once.</summary>
public sealed class SetupService(SetupState state, UserManager<ApplicationUser> users, TeamService teams, TimeProvider clock)
{
    private static readonly SemaphoreSlim Gate = new(1, 1);

    /// <summary>Returns the problems by field; empty when set-up is done.</summary>
    public async Task<IReadOnlyDictionary<string, string>> CompleteAsync(SetupRequest request, CancellationToken ct = default)
    {
        await Gate.WaitAsync(ct);
        try
        {
            if (await state.IsCompleteAsync(ct))
            {
                return new Dictionary<string, string> { [""] = "EvalPlatform is already set up. Sign in instead." };
            }

            return await CreateOwnerAsync(request, ct);
        }
        finally
        {
            Gate.Release();
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
        var created = await users.CreateAsync(user, request.Password);
        if (!created.Succeeded)
        {
            // Several errors can land on one field (e.g. invalid user name and invalid email): join them.
            return created.Errors
                .GroupBy(e => e.Code.Contains("Password", StringComparison.Ordinal) ? "Password" : "Email", StringComparer.Ordinal)
                .ToDictionary(g => g.Key, g => string.Join(" ", g.Select(e => e.Description)), StringComparer.Ordinal);
        }

        await teams.CreateTeamAsync(teamName, user.Id, ct);
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
