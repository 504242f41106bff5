namespace EvalPlatform.Core.Ingestion;

/// <summary>One client request's traces (a single POST or a batch), stored all or none.</summary>
public sealed record StoreRequest(Guid TeamId, IReadOnlyList<ParsedTrace> Traces);

/// <summary>What became of one trace of a request: stored now, or already stored by an earlier identical request.</summary>
public sealed record StoredTrace(int Index, Guid Id, string? ExternalId, bool Created);

/// <summary>Either every trace of the request is stored (<see cref="Traces"/>), or none is (<see cref="Conflicts"/>).</summary>
public sealed record StoreResult(IReadOnlyList<StoredTrace> Traces, IReadOnlyList<FieldError> Conflicts)
{
    public bool IsConflict => Conflicts.Count > 0;
}

/// <summary>
/// Writes several requests in one transaction (group commit). Requests may belong to different
/// teams, so implementations address rows by explicit team id, never by the ambient team.
/// A returned result means committed.
/// </summary>
public interface ITraceStore
{
    Task<IReadOnlyList<StoreResult>> StoreAsync(IReadOnlyList<StoreRequest> requests, CancellationToken ct = default);
}
