using EvalPlatform.Core.Providers;
using Microsoft.AspNetCore.DataProtection;

namespace EvalPlatform.Data.Providers;

/// <summary>Provider API keys encrypted with the app's Data Protection key ring; the purpose names the feature and the team.</summary>
internal sealed class DataProtectionProviderKeyProtector(IDataProtectionProvider provider) : IProviderKeyProtector
{
    public const string Purpose = "EvalPlatform.Providers.ApiKey.v1";

    private readonly IDataProtector _protector = provider.CreateProtector(Purpose);

    public string Protect(Guid teamId, string apiKey) => ForTeam(teamId).Protect(apiKey);

    public string Unprotect(Guid teamId, string protectedApiKey) => ForTeam(teamId).Unprotect(protectedApiKey);

    private IDataProtector ForTeam(Guid teamId) => _protector.CreateProtector(teamId.ToString("N"));
}
