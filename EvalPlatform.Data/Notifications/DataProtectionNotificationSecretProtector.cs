using EvalPlatform.Core.Notifications;
using Microsoft.AspNetCore.DataProtection;

namespace EvalPlatform.Data.Notifications;

/// <summary>Channel secrets, encrypted per team (<see cref="TeamSecretProtector"/>).</summary>
internal sealed class DataProtectionNotificationSecretProtector(IDataProtectionProvider provider) : TeamSecretProtector(provider, Purpose), INotificationSecretProtector
{
    public const string Purpose = "EvalPlatform.Notifications.ChannelSecret.v1";
}
