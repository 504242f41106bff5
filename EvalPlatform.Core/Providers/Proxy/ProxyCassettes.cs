using System.Text.Json;
using EvalPlatform.Core.Common;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Ingestion;
using EvalPlatform.Core.Tenancy;
using Microsoft.EntityFrameworkCore;

namespace EvalPlatform.Core.Providers.Proxy;

/// <summary>
/// A recorded answer for deterministic tests (<c>X-EvalPlatform-Replay: record</c>): the request's fingerprint and the
/// upstream's answer as it came, a stream as its chunks in order. <c>replay</c> answers the same request from it without
/// calling the upstream.
/// </summary>
public sealed class ProxyCassette : ITeamOwned
{
    public Guid Id { get; set; }
    public Guid TeamId { get; set; }

    /// <summary>SHA-256 (hex) of the route and the canonical request body (<see cref="ProxyCassettes.Fingerprint"/>).</summary>
    public required string Fingerprint { get; set; }

    /// <summary>The route, e.g. <c>openai/chat/completions</c>, for people reading the table.</summary>
    public required string Route { get; set; }

    public int Status { get; set; }

    /// <summary>The answer's headers worth replaying (content type, Retry-After, the provider's ids), as a JSON object of string arrays.</summary>
    public required string Headers { get; set; }

    /// <summary>A whole answer's body (null for a stream).</summary>
    public byte[]? Body { get; set; }

    /// <summary>A stream's chunks as they arrived, a JSON array of strings (null for a whole answer).</summary>
    public string? Chunks { get; set; }

    public required string Provider { get; set; }
    public string? Connection { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
}

/// <summary>The current team's cassettes.</summary>
public sealed class ProxyCassettes(IEvalDbContextFactory dbFactory, ITeamContext team, TimeProvider clock)
{
    /// <summary>
    /// The fingerprint of a call: the route and the body as JSON with object keys sorted (<see cref="CanonicalJson"/>), so
    /// the same request from another SDK version or serializer (key order, whitespace) finds the same cassette.
    /// </summary>
    public static string Fingerprint(string route, JsonElement body)
    {
        var bodyHash = CanonicalJson.Hash(body);
        var routeBytes = System.Text.Encoding.UTF8.GetBytes(route + "\n");
        return Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData([.. routeBytes, .. bodyHash]));
    }

    public async Task<ProxyCassette?> FindAsync(string fingerprint, CancellationToken ct)
    {
        await using var db = await dbFactory.CreateAsync(ct);
        return await db.ProxyCassettes.AsNoTracking().FirstOrDefaultAsync(c => c.Fingerprint == fingerprint, ct);
    }

    /// <summary>Stores <paramref name="cassette"/>, replacing the team's earlier one of the same fingerprint (a re-record).</summary>
    public async Task SaveAsync(ProxyCassette cassette, CancellationToken ct)
    {
        var teamId = team.TeamId ?? throw new InvalidOperationException("Cassettes are stored for the team in context; none is set.");
        await using var db = await dbFactory.CreateAsync(ct);
        var earlier = await db.ProxyCassettes.Where(c => c.Fingerprint == cassette.Fingerprint).ToListAsync(ct);
        db.ProxyCassettes.RemoveRange(earlier);
        cassette.TeamId = teamId;
        cassette.CreatedAt = clock.GetUtcNow();
        cassette.Id = Uuid7.Create(cassette.CreatedAt);
        db.ProxyCassettes.Add(cassette);
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException)
        {
            // The same request recorded at the same moment by another call: its cassette stands (they are alike).
        }
    }
}
