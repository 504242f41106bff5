using System.Data.Common;

namespace EvalPlatform.Core.Data;

/// <summary>
/// Whether a failure is the database being away or busy for a moment (a restart, a dropped connection, a full pool, a
/// serialisation conflict) rather than a fault of the request or of our code: the provider's own verdict
/// (<see cref="DbException.IsTransient"/>), wherever EF or a task wrapped it. A caller answers such a failure with
/// "try again" (503 and <c>Retry-After</c>), never with a 500: nothing of the request was committed.
/// </summary>
public static class DatabaseFailures
{
    public static bool IsTransient(Exception? e) => e switch
    {
        null => false,
        DbException { IsTransient: true } => true,
        AggregateException aggregate => aggregate.InnerExceptions.Any(IsTransient),
        _ => IsTransient(e.InnerException),
    };
}
