using System.Security.Cryptography;
using System.Text;

namespace EvalPlatform.Core.Teams;

/// <summary>
/// The secret in an invitation link: <c>inv_{43 base64url}</c>, 256 random bits, stored as its SHA-256 (as API keys
/// are: nothing to brute-force, so no slow hash). The link is <c>/invite/{token}</c>.
/// </summary>
public static class InvitationToken
{
    public const string Marker = "inv_";
    private const int SecretBytes = 32;
    private static readonly System.Buffers.SearchValues<char> Base64Url =
        System.Buffers.SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");

    public static (string Token, byte[] Hash) Generate()
    {
        var token = Marker + Convert.ToBase64String(RandomNumberGenerator.GetBytes(SecretBytes)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        return (token, ComputeHash(token));
    }

    /// <summary>False for anything not shaped like a token, so junk never reaches the database.</summary>
    public static bool IsWellFormed(string? token) =>
        token is { Length: > 4 and <= 64 } && token.StartsWith(Marker, StringComparison.Ordinal)
        && token.AsSpan(Marker.Length).IndexOfAnyExcept(Base64Url) < 0;

    public static byte[] ComputeHash(string token) => SHA256.HashData(Encoding.UTF8.GetBytes(token));

    /// <summary>The app-relative link for a token.</summary>
    public static string Path(string token) => "invite/" + token;
}
