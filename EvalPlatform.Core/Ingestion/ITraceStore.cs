namespace EvalPlatform.Core.Ingestion;

/// <summary>
/// One client request's traces (a single POST or a batch); each trace is stored or refused on its own. <paramref name="Bytes"/>
/// is the size of the traces' JSON as sent, what the ingestion queue bounds and shares between teams.
/// </summary>
public sealed record StoreRequest(Guid TeamId, IReadOnlyList<ParsedTrace> Traces, long Bytes = 0);

/// <summary>What became of one trace of a request: stored now, or already stored by an earlier identical request.</summary>
public sealed record StoredTrace(int Index, Guid Id, string? ExternalId, bool Created);

/// <summary>
/// A trace of a request that was not stored: a different trace under its external id is already stored
/// (<paramref name="IsConflict"/>), or the database refused the trace itself (a value it cannot hold).
/// </summary>
public sealed record RefusedTrace(int Index, string? ExternalId, bool IsConflict, string Message);

/// <summary>
/// Each trace of the request, stored (<see cref="Traces"/>) or refused (<see cref="Refused"/>): one trace's
/// conflict or failure never costs the request's other traces, nor another request of the group.
/// </summary>
public sealed record StoreResult(IReadOnlyList<StoredTrace> Traces, IReadOnlyList<RefusedTrace> Refused);

/// <summary>
/// Writes several requests in one transaction (group commit). Requests may belong to different
/// teams, so implementations address rows by explicit team id, never by the ambient team.
/// A returned result means committed.
/// </summary>
public interface ITraceStore
{
    Task<IReadOnlyList<StoreResult>> StoreAsync(IReadOnlyList<StoreRequest> requests, CancellationToken ct = default);
}
