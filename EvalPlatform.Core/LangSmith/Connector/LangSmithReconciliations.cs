using System.Text.Json.Nodes;
using EvalPlatform.Core.Common;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using Microsoft.EntityFrameworkCore;

namespace EvalPlatform.Core.LangSmith.Connector;

/// <summary>
/// One project's runs in LangSmith from its start time: how many, how many traces (root runs), over which dates.
/// <c>Complete</c> is false when the count stopped at <see cref="LangSmithReconciliations.MaxCountPages"/> pages (the
/// numbers are then "at least"), or when LangSmith refused (<c>Error</c>).
/// </summary>
public sealed record LangSmithProjectCount(
    Guid Id, string Name, DateTimeOffset? From, long Runs, long Traces, DateTimeOffset? Earliest, DateTimeOffset? Latest, bool Complete, string? Error);

/// <summary>What a backfill would import: per project and in all.</summary>
public sealed record LangSmithDryRun(
    int Projects, long Runs, long Traces, DateTimeOffset? Earliest, DateTimeOffset? Latest, bool Complete, IReadOnlyList<LangSmithProjectCount> Items);

/// <summary>
/// One project's runs in LangSmith against what is stored here: traces tagged with the project, their runs (spans with a
/// run id), and the runs the import log refused. <see cref="MissingRuns"/> and <see cref="MissingTraces"/> are what
/// LangSmith has beyond that (0 when the move is complete).
/// </summary>
public sealed record LangSmithProjectReconciliation(
    Guid Id, string Name, long LangSmithRuns, long LangSmithTraces, bool Complete, long RunsSeen, long RunsImported,
    long TracesStored, long SpansStored, long ImportIssues, long MissingRuns, long MissingTraces, string? Error);

/// <summary>The reconciliation of a connection: balanced when every project was counted whole and nothing is missing.</summary>
public sealed record LangSmithReconciliation(bool Balanced, IReadOnlyList<LangSmithProjectReconciliation> Projects);

/// <summary>
/// Before a backfill, a dry run: what it would import (LangSmith's runs and traces per project from its start time, the
/// date range), read with the same <c>/runs/query</c> paging as the import but storing nothing. After it, a
/// reconciliation: the same count against the traces and spans stored here and the import log, so a team can trust the
/// move. Both need <see cref="Permission.ManageIntegrations"/>; both read at most <see cref="MaxCountPages"/> pages a project.
/// </summary>
public sealed class LangSmithReconciliations(IEvalDbContextFactory dbFactory, ITeamContext team, ILangSmithKeyProtector protector, LangSmithClient client)
{
    /// <summary>Pages read per project (100 runs each): a count beyond is reported as incomplete ("at least").</summary>
    public const int MaxCountPages = 200;

    public async Task<LangSmithDryRun> DryRunAsync(Guid id, CancellationToken ct = default)
    {
        var (endpoint, projects) = await LoadAsync(id, ct);
        var items = new List<LangSmithProjectCount>();
        foreach (var project in projects)
        {
            items.Add(await CountAsync(endpoint, project, ct));
        }

        return new LangSmithDryRun(
            items.Count, items.Sum(i => i.Runs), items.Sum(i => i.Traces), items.Min(i => i.Earliest), items.Max(i => i.Latest),
            items.All(i => i.Complete), items);
    }

    public async Task<LangSmithReconciliation> ReconcileAsync(Guid id, CancellationToken ct = default)
    {
        var (endpoint, projects) = await LoadAsync(id, ct);
        var result = new List<LangSmithProjectReconciliation>();
        foreach (var project in projects)
        {
            var count = await CountAsync(endpoint, project, ct);
            await using var db = await dbFactory.CreateAsync(ct);
            var tag = "project:" + project.Name;
            var traceIds = db.Traces.AsNoTracking().Where(t => t.Tags.Contains(tag)).Select(t => t.Id);
            var traces = await traceIds.LongCountAsync(ct);
            var spans = await db.Spans.AsNoTracking().Where(s => s.ExternalId != null && !s.Placeholder && traceIds.Contains(s.TraceId)).LongCountAsync(ct);
            var issues = await db.LangSmithImportIssues.AsNoTracking().Where(i => i.ConnectionId == id && i.ProjectId == project.ProjectId).LongCountAsync(ct);
            result.Add(new LangSmithProjectReconciliation(
                project.ProjectId, project.Name, count.Runs, count.Traces, count.Complete, project.RunsSeen, project.RunsImported, traces, spans, issues,
                Math.Max(0, count.Runs - spans - issues), Math.Max(0, count.Traces - traces), count.Error));
        }

        return new LangSmithReconciliation(result.All(r => r.Complete && r.Error is null && r.MissingRuns == 0 && r.MissingTraces == 0), result);
    }

    private async Task<(LangSmithEndpoint Endpoint, List<LangSmithProject> Projects)> LoadAsync(Guid id, CancellationToken ct)
    {
        var teamId = team.Can(Permission.ManageIntegrations) && team.TeamId is { } t
            ? t
            : throw new PermissionDeniedException("Managing LangSmith connections needs the Admin role or an API key with the 'admin' scope.");
        await using var db = await dbFactory.CreateAsync(ct);
        var connection = await db.LangSmithConnections.AsNoTracking().SingleOrDefaultAsync(c => c.Id == id, ct)
            ?? throw new NotFoundException($"No LangSmith connection {id} in this team.");
        var projects = await db.LangSmithProjects.AsNoTracking().Where(p => p.ConnectionId == id).ToListAsync(ct);
        var endpoint = new LangSmithEndpoint(connection.ApiUrl, protector.Unprotect(teamId, connection.ProtectedApiKey), connection.WorkspaceId);
        return (endpoint, projects.OrderBy(p => p.Name, StringComparer.Ordinal).ToList());
    }

    /// <summary>The project's runs from its start time, page by page as the import reads them; LangSmith's refusal is the project's error.</summary>
    private async Task<LangSmithProjectCount> CountAsync(LangSmithEndpoint endpoint, LangSmithProject project, CancellationToken ct)
    {
        long runs = 0, traces = 0;
        DateTimeOffset? earliest = null, latest = null;
        string? cursor = null;
        try
        {
            for (var page = 0; page < MaxCountPages; page++)
            {
                var result = await client.QueryRunsAsync(endpoint, project.ProjectId, project.StartTime, cursor, LangSmithClient.MaxPageSize, ct);
                foreach (var run in result.Runs)
                {
                    runs++;
                    if (run["parent_run_id"] is not JsonValue)
                    {
                        traces++;
                    }

                    if (LangSmithClient.Time(run["start_time"]) is { } start)
                    {
                        earliest = earliest is { } e && e <= start ? e : start;
                        latest = latest is { } l && l >= start ? l : start;
                    }
                }

                cursor = result.NextCursor;
                if (cursor is null)
                {
                    return new LangSmithProjectCount(project.ProjectId, project.Name, project.StartTime, runs, traces, earliest, latest, true, null);
                }
            }

            return new LangSmithProjectCount(project.ProjectId, project.Name, project.StartTime, runs, traces, earliest, latest, false, null);
        }
        catch (LangSmithApiException e)
        {
            return new LangSmithProjectCount(project.ProjectId, project.Name, project.StartTime, runs, traces, earliest, latest, false, e.Message);
        }
    }
}
