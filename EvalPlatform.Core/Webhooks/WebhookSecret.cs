using EvalPlatform.Core.Tenancy;

namespace EvalPlatform.Core.Webhooks;

/// <summary>
/// A team's webhook signing secret. Only the Data Protection output (<see cref="ProtectedSecret"/>)
/// is stored, never the secret itself. At most one secret per team is current
/// (<see cref="ExpiresAt"/> null); after a rotation the previous one stays valid until its
/// <see cref="ExpiresAt"/>, so a sender can switch without losing webhooks.
/// </summary>
public sealed class WebhookSecret : ITeamOwned
{
    public Guid Id { get; set; }
    public Guid TeamId { get; set; }

    /// <summary>The secret encrypted by <see cref="IWebhookSecretProtector"/> for this team.</summary>
    public required string ProtectedSecret { get; set; }

    /// <summary>The secret's last characters, to tell secrets apart in the settings page.</summary>
    public required string Hint { get; set; }

    public DateTimeOffset CreatedAt { get; set; }
    public string? CreatedByUserId { get; set; }

    /// <summary>Null while the secret is the team's current one; set when it is rotated out or expired.</summary>
    public DateTimeOffset? ExpiresAt { get; set; }

    public bool IsActiveAt(DateTimeOffset now) => ExpiresAt is null || ExpiresAt > now;
}

/// <summary>
/// Encrypts webhook secrets for storage (ASP.NET Core Data Protection in the app). The team id is
/// part of the protection, so a stored value copied to another team's row does not decrypt.
/// </summary>
public interface IWebhookSecretProtector
{
    string Protect(Guid teamId, string secret);

    /// <summary>The plaintext secret; throws <see cref="System.Security.Cryptography.CryptographicException"/> when it cannot be decrypted.</summary>
    string Unprotect(Guid teamId, string protectedSecret);
}
