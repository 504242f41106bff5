namespace EvalPlatform.Core.Teams;

/// <summary>
/// Members' e-mail addresses, for mail that leaves the platform (notifications now, invitations later). Users are
/// Identity's (in Data), so Core asks through this interface. The team is given explicitly (the caller may be a job
/// outside any team's scope); only members of that team are answered.
/// </summary>
public interface IMemberEmails
{
    /// <summary>The addresses of those of <paramref name="userIds"/> who are members of <paramref name="teamId"/> and have one, by user id.</summary>
    Task<IReadOnlyDictionary<string, string>> FindAsync(Guid teamId, IReadOnlyCollection<string> userIds, CancellationToken ct = default);
}
