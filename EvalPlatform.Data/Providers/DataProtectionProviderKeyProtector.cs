using EvalPlatform.Core.Providers;
using Microsoft.AspNetCore.DataProtection;

namespace EvalPlatform.Data.Providers;

/// <summary>Provider API keys, encrypted per team (<see cref="TeamSecretProtector"/>).</summary>
internal sealed class DataProtectionProviderKeyProtector(IDataProtectionProvider provider) : TeamSecretProtector(provider, Purpose), IProviderKeyProtector
{
    public const string Purpose = "EvalPlatform.Providers.ApiKey.v1";
}
