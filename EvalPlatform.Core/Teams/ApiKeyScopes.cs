namespace EvalPlatform.Core.Teams;

/// <summary>What an API key may do. Stored as an integer; spelled as lower-case words on the wire.</summary>
[Flags]
public enum ApiKeyScopes
{
    None = 0,
    Ingest = 1,
    Read = 2,
    Admin = 4,

    /// <summary>Accept, reject, score and annotate traces (<c>POST /traces/{id}/review</c>).</summary>
    Review = 8,
}
