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

    /// <summary>The team's IANA time zone (<c>Europe/Berlin</c>): its days, for the daily digest. UTC until an Admin chooses.</summary>
    public string TimeZone { get; set; } = "UTC";

    /// <summary>Whether the team gets a daily digest (Slack channels subscribed to <c>digest.daily</c>, and in-app).</summary>
    public bool DigestEnabled { get; set; }

    /// <summary>The local time of day (in <see cref="TimeZone"/>) from which yesterday's digest is sent.</summary>
    public TimeOnly DigestTime { get; set; } = new(9, 0);

    /// <summary>
    /// How many days the team's traces are kept (counted from when each arrived, as the trace list sorts them), or null to
    /// keep them forever. The nightly trace retention job deletes older ones with everything keyed by their id (ADR 37).
    /// </summary>
    public int? TraceRetentionDays { get; set; }

    public static string Normalize(string name) => name.Trim().ToUpperInvariant();
}
