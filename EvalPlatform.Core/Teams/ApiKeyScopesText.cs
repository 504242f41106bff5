namespace EvalPlatform.Core.Teams;

/// <summary>The wire spelling of <see cref="ApiKeyScopes"/>: lower-case words, comma separated.</summary>
public static class ApiKeyScopesText
{
    private static readonly (string Name, ApiKeyScopes Scope)[] Names =
    [
        ("ingest", ApiKeyScopes.Ingest),
        ("read", ApiKeyScopes.Read),
        ("admin", ApiKeyScopes.Admin),
        ("review", ApiKeyScopes.Review),
    ];

    /// <summary>Every scope there is.</summary>
    public const ApiKeyScopes All = ApiKeyScopes.Ingest | ApiKeyScopes.Read | ApiKeyScopes.Admin | ApiKeyScopes.Review;

    public static IReadOnlyList<string> ToNames(ApiKeyScopes scopes) =>
        Names.Where(n => scopes.HasFlag(n.Scope)).Select(n => n.Name).ToArray();

    public static string Format(ApiKeyScopes scopes) => string.Join(',', ToNames(scopes));

    /// <summary>Parses "ingest,read"; false (with the offending word) for anything unknown or empty.</summary>
    public static bool TryParse(string? text, out ApiKeyScopes scopes, out string? unknown)
    {
        scopes = ApiKeyScopes.None;
        unknown = null;
        foreach (var word in (text ?? "").Split([',', ' '], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var match = Names.FirstOrDefault(n => string.Equals(n.Name, word, StringComparison.OrdinalIgnoreCase));
            if (match.Name is null)
            {
                unknown = word;
                return false;
            }

            scopes |= match.Scope;
        }

        return scopes != ApiKeyScopes.None;
    }
}
