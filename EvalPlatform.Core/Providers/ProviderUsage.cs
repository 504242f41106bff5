using EvalPlatform.Core.Common;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Tenancy;

namespace EvalPlatform.Core.Providers;

/// <summary>
/// Stores one <see cref="ProviderCall"/> per call, in its own short unit of work (a call that failed must still be
/// counted, whatever happens to the caller's). The team is the current one; a record naming another team is refused.
/// </summary>
public sealed class ProviderUsage(IEvalDbContextFactory dbFactory, ITeamContext team, TimeProvider clock) : IProviderUsage
{
    public Task RecordAsync(ProviderCall record, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(record);
        return RecordAsync([record], ct);
    }

    public async Task RecordAsync(IReadOnlyList<ProviderCall> records, CancellationToken ct)
    {
        var teamId = team.TeamId ?? throw new InvalidOperationException("Provider calls are recorded for the team in context; none is set.");
        foreach (var record in records)
        {
            if (record.TeamId != Guid.Empty && record.TeamId != teamId)
            {
                throw new InvalidOperationException("A provider call is recorded for the team in context only.");
            }

            record.TeamId = teamId;
            if (record.At == default)
            {
                record.At = clock.GetUtcNow();
            }

            if (record.Id == Guid.Empty)
            {
                record.Id = Uuid7.Create(record.At);
            }
        }

        await using var db = await dbFactory.CreateAsync(ct);
        db.ProviderCalls.AddRange(records);
        await db.SaveChangesAsync(ct);
    }
}
