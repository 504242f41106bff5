using EvalPlatform.Core.Webhooks;
using Microsoft.AspNetCore.DataProtection;

namespace EvalPlatform.Data.Webhooks;

/// <summary>Webhook secrets (kept in the database, shared by every node), encrypted per team (<see cref="TeamSecretProtector"/>).</summary>
internal sealed class DataProtectionWebhookSecretProtector(IDataProtectionProvider provider) : TeamSecretProtector(provider, Purpose), IWebhookSecretProtector
{
    public const string Purpose = "EvalPlatform.Webhooks.Secret.v1";
}
