using EvalPlatform.Core.LangSmith.Connector;
using Microsoft.AspNetCore.DataProtection;

namespace EvalPlatform.Data.LangSmith;

/// <summary>LangSmith API keys encrypted with the app's Data Protection key ring; the purpose names the feature and the team.</summary>
internal sealed class DataProtectionLangSmithKeyProtector(IDataProtectionProvider provider) : ILangSmithKeyProtector
{
    public const string Purpose = "EvalPlatform.LangSmith.ApiKey.v1";

    private readonly IDataProtector _protector = provider.CreateProtector(Purpose);

    public string Protect(Guid teamId, string apiKey) => ForTeam(teamId).Protect(apiKey);

    public string Unprotect(Guid teamId, string protectedApiKey) => ForTeam(teamId).Unprotect(protectedApiKey);

    private IDataProtector ForTeam(Guid teamId) => _protector.CreateProtector(teamId.ToString("N"));
}
