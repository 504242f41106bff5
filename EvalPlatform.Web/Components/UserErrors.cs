using EvalPlatform.Core.Common;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Traces;

namespace EvalPlatform.Web.Components;

/// <summary>
/// The one way a component turns an exception into what it shows: Core's outcomes (invalid input, not allowed, not found,
/// a conflict) carry a message written for a person and are shown as they are; a database that is away for a moment says
/// so; anything else is a bug, shown as a generic line (never its message or stack: those go to the log).
/// <code>catch (Exception e) when (UserErrors.IsExpected(e)) { _error = UserErrors.Message(e); }</code>
/// </summary>
public static class UserErrors
{
    public const string Unavailable = "The database is unavailable for a moment. Try again shortly.";
    public const string Unexpected = "Something went wrong. Try again; if it keeps happening, tell an administrator.";

    /// <summary>An outcome the page handles by showing <see cref="Message"/>, not a failure of the page.</summary>
    public static bool IsExpected(Exception e) =>
        e is DomainValidationException or InputValidationException or PermissionDeniedException or NotFoundException or ConflictException
        || DatabaseFailures.IsTransient(e);

    /// <summary>What to show for <paramref name="e"/>.</summary>
    public static string Message(Exception e) => e switch
    {
        InputValidationException invalid => string.Join(" ", invalid.Errors.Select(f => f.Message)),
        DomainValidationException or PermissionDeniedException or NotFoundException or ConflictException => e.Message,
        _ when DatabaseFailures.IsTransient(e) => Unavailable,
        _ => Unexpected,
    };
}
