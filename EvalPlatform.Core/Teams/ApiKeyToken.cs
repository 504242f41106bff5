using System.Security.Cryptography;
using System.Text;

namespace EvalPlatform.Core.Teams;

/// <summary>
/// The API key format: <c>ep_{12 hex}_{43 base64url}</c>. The first part (with <c>ep_</c>) is the
/// stored, displayable prefix used to find the key; the whole key is hashed with SHA-256.
/// 256 random bits make a slow hash unnecessary: there is nothing to brute-force.
/// </summary>
public static class ApiKeyToken
{
    public const string Marker = "ep_";
    private const int PrefixHexLength = 12;
    private const int SecretBytes = 32;

    public static (string Key, string Prefix, byte[] Hash) Generate()
    {
        var prefix = Marker + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(PrefixHexLength / 2));
        var secret = Base64UrlEncode(RandomNumberGenerator.GetBytes(SecretBytes));
        var key = $"{prefix}_{secret}";
        return (key, prefix, ComputeHash(key));
    }

    /// <summary>Reads the prefix of a presented key; false when it is not shaped like one of ours.</summary>
    public static bool TryGetPrefix(string? presented, out string prefix)
    {
        prefix = "";
        if (string.IsNullOrEmpty(presented) || presented.Length > 128 || !presented.StartsWith(Marker, StringComparison.Ordinal))
        {
            return false;
        }

        var separator = presented.IndexOf('_', Marker.Length);
        if (separator != Marker.Length + PrefixHexLength || separator == presented.Length - 1)
        {
            return false;
        }

        prefix = presented[..separator];
        return true;
    }

    public static byte[] ComputeHash(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));

    /// <summary>Constant-time comparison of a presented key against a stored hash.</summary>
    public static bool Matches(string presented, byte[] storedHash) =>
        CryptographicOperations.FixedTimeEquals(ComputeHash(presented), storedHash);

    private static string Base64UrlEncode(byte[] bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
