namespace EvalPlatform.Core.Live;

/// <summary>Something that open pages of one team should show at once.</summary>
public abstract record LiveEvent(Guid TeamId);

/// <summary>A row of the trace list, carried in the event so a page can show it without a query.</summary>
public sealed record TraceSummary(
    Guid Id, string? ExternalId, string? Name, string? Model, string? Provider, string? InputPreview, string? OutputPreview,
    double? LatencyMs, int? TotalTokens, decimal? Cost, string? Error, IReadOnlyList<string> Tags, string? Environment,
    DateTimeOffset StartedAt, DateTimeOffset CreatedAt);

/// <summary>Traces were committed. At most <see cref="MaxSummaries"/> summaries travel; a page resyncs for the rest.</summary>
public sealed record TracesIngested(Guid TeamId, IReadOnlyList<Guid> TraceIds, IReadOnlyList<TraceSummary> Summaries) : LiveEvent(TeamId)
{
    public const int MaxSummaries = 100;
}

/// <summary>A trace was completed or changed (PATCH, scores).</summary>
public sealed record TraceUpdated(Guid TeamId, Guid TraceId) : LiveEvent(TeamId);

/// <summary>An API key was revoked: every node drops what it cached of it (see <c>ApiKeyCache</c>).</summary>
public sealed record ApiKeyRevoked(Guid TeamId, string Prefix) : LiveEvent(TeamId);

/// <summary>
/// Sent to one subscriber (never published) when its queue overflowed and events were dropped:
/// it should reload what it shows.
/// </summary>
public sealed record ResyncNeeded(Guid TeamId) : LiveEvent(TeamId);

/// <summary>A team's browser origins changed: every node drops its copy of the origins (see <c>IngestionOriginCache</c>).</summary>
public sealed record IngestionOriginsChanged(Guid TeamId) : LiveEvent(TeamId);

/// <summary>In-app notifications of these members changed (new ones committed, or read): their bells recount.</summary>
public sealed record NotificationsChanged(Guid TeamId, IReadOnlyList<string> UserIds) : LiveEvent(TeamId);

/// <summary>
/// These users' membership of the team changed (role, removal, joining) or their sessions were ended: their open pages
/// re-check who they are and what they may do at once (see <c>TeamScope</c>).
/// </summary>
public sealed record MembersChanged(Guid TeamId, IReadOnlyList<string> UserIds) : LiveEvent(TeamId);
