using EvalPlatform.Core.Webhooks;
using Microsoft.AspNetCore.DataProtection;

namespace EvalPlatform.Data.Webhooks;

/// <summary>
/// Webhook secrets encrypted with the app's Data Protection key ring (kept in the database, shared
/// by every node). The purpose names the feature and the team, so neither another feature's
/// protector nor another team's row can be used to read a secret.
/// </summary>
internal sealed class DataProtectionWebhookSecretProtector(IDataProtectionProvider provider) : IWebhookSecretProtector
{
    public const string Purpose = "EvalPlatform.Webhooks.Secret.v1";

    private readonly IDataProtector _protector = provider.CreateProtector(Purpose);

    public string Protect(Guid teamId, string secret) => ForTeam(teamId).Protect(secret);

    public string Unprotect(Guid teamId, string protectedSecret) => ForTeam(teamId).Unprotect(protectedSecret);

    private IDataProtector ForTeam(Guid teamId) => _protector.CreateProtector(teamId.ToString("N"));
}
