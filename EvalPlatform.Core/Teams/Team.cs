namespace EvalPlatform.Core.Teams;

/// <summary>A tenant: everything a team owns carries its id.</summary>
public sealed class Team
{
    public Guid Id { get; set; }
    public required string Name { get; set; }

    /// <summary>Upper-cased <see cref="Name"/>; unique, so names differ in more than case.</summary>
    public required string NormalizedName { get; set; }
    public DateTimeOffset CreatedAt { get; set; }

    /// <summary>
    /// Browser origins (<c>https://app.example.com</c>) allowed to send traces to the ingestion routes with
    /// this team's keys, besides those the operator allows for every team (<c>Ingestion:Cors:AllowedOrigins</c>).
    /// </summary>
    public List<string> IngestionOrigins { get; set; } = [];

    public static string Normalize(string name) => name.Trim().ToUpperInvariant();
}
