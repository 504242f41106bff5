namespace EvalPlatform.Core.Teams;

/// <summary>What the members page shows of a member's account.</summary>
public sealed record MemberAccount(string UserId, string? Email, string? DisplayName, DateTimeOffset? LastSignInAt);

/// <summary>
/// Accounts (Identity's users, in Data) as the member and invitation services need them. Callers pass the user ids
/// they are allowed to see (the current team's members); <see cref="FindUserIdByEmailAsync"/> answers for any account,
/// and only the services use it (to say an invitee is already a member), never to show it.
/// </summary>
public interface IMemberAccounts
{
    Task<IReadOnlyDictionary<string, MemberAccount>> FindAsync(IReadOnlyCollection<string> userIds, CancellationToken ct = default);

    Task<string?> FindUserIdByEmailAsync(string email, CancellationToken ct = default);
}
