namespace EvalPlatform.Core.Ingestion;

/// <summary>
/// The database half of the ingestion issue log, for its writer only. A cross-team writer by nature
/// (one flush writes every team's rows): every method names its team explicitly or works on all teams,
/// and the implementation (EvalPlatform.Data/Queries/Ingestion) opts out of the team filter to do so.
/// Team-scoped reading is <see cref="IngestionIssueQueries"/>.
/// </summary>
public interface IIngestionIssueStore
{
    /// <summary>How many rows the team already has for the hour.</summary>
    Task<int> CountRowsAsync(Guid teamId, DateTimeOffset hour, CancellationToken ct = default);

    /// <summary>Which of <paramref name="groupKeys"/> the team already has rows for in the hour.</summary>
    Task<IReadOnlySet<string>> FindGroupKeysAsync(Guid teamId, DateTimeOffset hour, IReadOnlyCollection<string> groupKeys, CancellationToken ct = default);

    /// <summary>
    /// Adds the counts in one transaction: a new (team, hour, group key) inserts its row, a known one adds
    /// to its count and moves its last-seen time forward. All or nothing, so a failed call can be retried whole.
    /// </summary>
    Task UpsertAsync(IReadOnlyList<BufferedIssue> rows, CancellationToken ct = default);

    /// <summary>Deletes every team's rows last seen before <paramref name="cutoff"/>; returns how many.</summary>
    Task<int> DeleteLastSeenBeforeAsync(DateTimeOffset cutoff, CancellationToken ct = default);
}
