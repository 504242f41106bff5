using System.Security.Cryptography;
using EvalPlatform.Core.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;

namespace EvalPlatform.Core.Webhooks;

/// <summary>
/// Reads a team's active webhook secrets to check a delivery's signature. The team is only
/// claimed by the request (its <c>team</c> parameter) until the signature proves it, so the
/// current team is not set yet: this is one of the few places that reads across teams
/// (<c>IgnoreQueryFilters</c>), by explicit team id.
/// </summary>
public sealed class WebhookAuthenticator(IEvalDbContextFactory dbFactory, IWebhookSecretProtector protector, TimeProvider clock, ILogger<WebhookAuthenticator> logger)
{
    /// <summary>The plaintext secrets that may sign for <paramref name="teamId"/> now; empty for an unknown team or one without webhooks.</summary>
    public async Task<IReadOnlyList<string>> ActiveSecretsAsync(Guid teamId, CancellationToken ct = default)
    {
        var now = clock.GetUtcNow();
        await using var db = await dbFactory.CreateAsync(ct);
        var rows = await db.WebhookSecrets.IgnoreQueryFilters().AsNoTracking()
            .Where(s => s.TeamId == teamId && (s.ExpiresAt == null || s.ExpiresAt > now))
            .Select(s => s.ProtectedSecret)
            .ToListAsync(ct);
        var secrets = new List<string>(rows.Count);
        foreach (var stored in rows)
        {
            try
            {
                secrets.Add(protector.Unprotect(teamId, stored));
            }
            catch (CryptographicException e)
            {
                // The Data Protection key ring lost the key (or the row was tampered with): that secret cannot sign anything.
                logger.LogError("A webhook secret of team {TeamId} cannot be decrypted ({Reason}); rotate it in the team settings.", teamId, e.Message);
            }
        }

        return secrets;
    }
}
