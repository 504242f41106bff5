using EvalPlatform.Core.Notifications;
using Microsoft.AspNetCore.DataProtection;

namespace EvalPlatform.Data.Notifications;

/// <summary>Channel secrets encrypted with the app's Data Protection key ring; the purpose names the feature and the team.</summary>
internal sealed class DataProtectionNotificationSecretProtector(IDataProtectionProvider provider) : INotificationSecretProtector
{
    public const string Purpose = "EvalPlatform.Notifications.ChannelSecret.v1";

    private readonly IDataProtector _protector = provider.CreateProtector(Purpose);

    public string Protect(Guid teamId, string secret) => ForTeam(teamId).Protect(secret);

    public string Unprotect(Guid teamId, string protectedSecret) => ForTeam(teamId).Unprotect(protectedSecret);

    private IDataProtector ForTeam(Guid teamId) => _protector.CreateProtector(teamId.ToString("N"));
}
