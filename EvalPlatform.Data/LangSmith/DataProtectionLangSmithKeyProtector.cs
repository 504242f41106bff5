using EvalPlatform.Core.LangSmith.Connector;
using Microsoft.AspNetCore.DataProtection;

namespace EvalPlatform.Data.LangSmith;

/// <summary>LangSmith API keys, encrypted per team (<see cref="TeamSecretProtector"/>).</summary>
internal sealed class DataProtectionLangSmithKeyProtector(IDataProtectionProvider provider) : TeamSecretProtector(provider, Purpose), ILangSmithKeyProtector
{
    public const string Purpose = "EvalPlatform.LangSmith.ApiKey.v1";
}
