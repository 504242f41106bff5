namespace EvalPlatform.Core.Teams;

/// <summary>A member of the current team as others see them.</summary>
public sealed record MemberInfo(string UserId, string Name, TeamRole Role);

/// <summary>
/// Names of people, for Core code that shows who did something. Users are Identity's (in Data),
/// so Core asks through this interface; every answer is limited to the current team's members.
/// </summary>
public interface IMemberDirectory
{
    /// <summary>The current team's members, by name.</summary>
    Task<IReadOnlyList<MemberInfo>> ListMembersAsync(CancellationToken ct = default);

    /// <summary>The name a member of the current team gave (at set-up or on accepting an invitation), else their e-mail; null for a non-member.</summary>
    Task<string?> FindNameAsync(string userId, CancellationToken ct = default);

    /// <summary>The user id of the current team's member with this e-mail (any case), or null.</summary>
    Task<string?> FindUserIdByEmailAsync(string email, CancellationToken ct = default);
}
