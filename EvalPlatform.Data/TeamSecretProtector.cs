using Microsoft.AspNetCore.DataProtection;

namespace EvalPlatform.Data;

/// <summary>
/// A secret the platform must use later (a provider key, a channel or webhook secret, a LangSmith key) encrypted with the
/// app's Data Protection key ring. The purpose names the feature and then the team, so neither another feature's
/// protector nor another team's row can read it. Each feature's protector is this with its own purpose.
/// </summary>
internal abstract class TeamSecretProtector(IDataProtectionProvider provider, string purpose)
{
    private readonly IDataProtector _protector = provider.CreateProtector(purpose);

    public string Protect(Guid teamId, string secret) => ForTeam(teamId).Protect(secret);

    public string Unprotect(Guid teamId, string protectedSecret) => ForTeam(teamId).Unprotect(protectedSecret);

    private IDataProtector ForTeam(Guid teamId) => _protector.CreateProtector(teamId.ToString("N"));
}
