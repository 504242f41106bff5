using EvalPlatform.Core.Data;
using Microsoft.EntityFrameworkCore;

namespace EvalPlatform.Core.Analytics;

/// <summary>A team's minute (UTC start).</summary>
public readonly record struct TeamMinute(Guid TeamId, DateTimeOffset Minute);

/// <summary>The aggregate of one bucket and one combination of the rollup dimensions.</summary>
public sealed record RollupCell(DateTimeOffset Bucket, RollupDimensions Dimensions, MetricAggregate Aggregate);

/// <summary>
/// The rollup's reads of the raw traces, tuned per database (EvalPlatform.Data/Queries/Analytics). These read across
/// teams or for a team named by the caller: only <see cref="MetricsRollup"/> calls them.
/// </summary>
public interface IRawMetrics
{
    /// <summary>The distinct (team, minute of <c>StartedAt</c>) of every trace whose <c>UpdatedAt</c> is at or after <paramref name="since"/> (all traces when null).</summary>
    Task<IReadOnlyList<TeamMinute>> ChangedMinutesAsync(IEvalDbContext db, DateTimeOffset? since, CancellationToken ct = default);

    /// <summary>Per minute and dimensions, the aggregate of <paramref name="teamId"/>'s traces that started in <paramref name="minutes"/> (their scores included).</summary>
    Task<IReadOnlyList<RollupCell>> MinuteCellsAsync(IEvalDbContext db, Guid teamId, IReadOnlyList<DateTimeOffset> minutes, CancellationToken ct = default);

    /// <summary>
    /// Stores new rows of <paramref name="table"/> (rollup rows, dirty marks) in the context's current transaction: EF on every
    /// database, binary COPY on PostgreSQL (a month's catch-up writes about a million rollup rows).
    /// </summary>
    Task InsertAsync<T>(IEvalDbContext db, DbSet<T> table, IReadOnlyList<T> rows, CancellationToken ct = default)
        where T : class;
}
