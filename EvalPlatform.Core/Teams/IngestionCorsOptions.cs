namespace EvalPlatform.Core.Teams;

/// <summary>
/// The <c>Ingestion:Cors</c> section: browser origins the operator allows on the ingestion routes for every team, besides
/// each team's own list (<see cref="Team.IngestionOrigins"/>). Exact origins (<c>https://app.example.com</c>), or <c>*</c> for
/// any origin (development only: any web page could then send with a key it holds). Checked at start; a bad entry stops the
/// process naming it.
/// </summary>
public sealed class IngestionCorsOptions
{
    public const string SectionName = "Ingestion:Cors";

    public List<string> AllowedOrigins { get; set; } = [];
}
