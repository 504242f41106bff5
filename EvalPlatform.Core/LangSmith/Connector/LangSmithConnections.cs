using System.Globalization;
using EvalPlatform.Core.Audit;
using EvalPlatform.Core.Common;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Outbound;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using Microsoft.EntityFrameworkCore;

namespace EvalPlatform.Core.LangSmith.Connector;

/// <summary>A project to import: LangSmith's id or its name, and optionally the earliest run start to import (ISO 8601).</summary>
public sealed record LangSmithProjectInput(string? Id, string? Name, string? StartTime);

/// <summary>A connection as created or changed; on a change, null fields keep their value (the key included).</summary>
public sealed record LangSmithConnectionInput(
    string? ApiUrl, string? ApiKey, string? WorkspaceId, IReadOnlyList<LangSmithProjectInput>? Projects,
    int? SyncIntervalMinutes, bool? PushFeedback, string? FeedbackKey);

/// <summary>
/// A project's status: <c>RunsImportedToday</c> counts the UTC day; while its backfill runs, its rate (runs read per
/// minute since the sync last took it up) and the time left to LangSmith's estimate at that rate (null when unknown).
/// </summary>
public sealed record LangSmithProjectStatus(
    Guid Id, string Name, DateTimeOffset? StartTime, bool BackfillDone, long? EstimatedRuns, long RunsSeen, long RunsImported,
    long TracesImported, long Errors, DateTimeOffset? LastSyncAt, string? LastError, DateTimeOffset? NewestRun,
    long RunsImportedToday = 0, double? BackfillRunsPerMinute = null, long? BackfillSecondsLeft = null);

/// <summary>A connection with its status (never its key: the last four characters only).</summary>
public sealed record LangSmithConnectionInfo(
    Guid Id, string ApiUrl, string KeyHint, string? WorkspaceId, int SyncIntervalMinutes, bool PushFeedback, string FeedbackKey,
    bool Paused, DateTimeOffset CreatedAt, DateTimeOffset? LastSyncAt, DateTimeOffset NextSyncAt, string? LastError,
    long RunsImported, long TracesImported, long Errors, long FeedbackSent, long FeedbackFailed, IReadOnlyList<LangSmithProjectStatus> Projects, long FeedbackPending = 0,
    long RunsImportedToday = 0);

/// <summary>Reviews sent back as feedback (ADR 45), counted per feedback (trace × key), not per attempt.</summary>
public sealed record LangSmithFeedbackCounts(long Sent, long Failed, long Pending)
{
    public static readonly LangSmithFeedbackCounts None = new(0, 0, 0);
}

/// <summary>The outcome of "Test connection": LangSmith's version and projects, or its own message.</summary>
public sealed record LangSmithTestResult(bool Ok, int? Status, string? Error, string? Version, IReadOnlyList<LangSmithProjectListing> Projects);

/// <summary>One review kept in LangSmith as feedback: its LangSmith id, where it stands, and LangSmith's last refusal.</summary>
public sealed record LangSmithFeedbackInfo(
    Guid Id, Guid TraceId, string RunId, string Key, string Status, int Version, int SentVersion, string? LastError, DateTimeOffset UpdatedAt, DateTimeOffset? SentAt);

public sealed record LangSmithImportIssueInfo(Guid Id, Guid? ProjectId, string? RunId, string Reason, DateTimeOffset At);

/// <summary>
/// The current team's LangSmith connections (Settings → Integrations → LangSmith, <c>/api/v1/integrations/langsmith</c>):
/// all of it needs <see cref="Permission.ManageIntegrations"/>. The API URL passes the SSRF guard when saved (and at each
/// connection, in the HttpClient); the key is encrypted for the team and never shown again; projects are resolved against
/// LangSmith's own list when saved, so a wrong key or an unknown project is a 400 naming the field. Changes are audited.
/// </summary>
public sealed class LangSmithConnections(
    IEvalDbContextFactory dbFactory, ITeamContext team, ILangSmithKeyProtector protector, LangSmithClient client,
    OutboundGuard guard, AuditLog audit, TimeProvider clock)
{
    public const string DefaultApiUrl = "https://api.smith.langchain.com";
    public const string DefaultFeedbackKey = "human_review";
    public const int DefaultSyncIntervalMinutes = 15;
    public const int MaxConnections = 10;
    public const int MaxProjects = 50;

    public async Task<IReadOnlyList<LangSmithConnectionInfo>> ListAsync(CancellationToken ct = default)
    {
        RequireManage();
        await using var db = await dbFactory.CreateAsync(ct);
        var connections = await db.LangSmithConnections.AsNoTracking().ToListAsync(ct);
        var projects = await db.LangSmithProjects.AsNoTracking().ToListAsync(ct);
        var feedback = await FeedbackCountsAsync(db, null, ct);
        return connections.OrderBy(c => c.CreatedAt).ThenBy(c => c.Id)
            .Select(c => ToInfo(c, projects.Where(p => p.ConnectionId == c.Id), feedback.GetValueOrDefault(c.Id), clock.GetUtcNow())).ToList();
    }

    public async Task<LangSmithConnectionInfo> GetAsync(Guid id, CancellationToken ct = default)
    {
        RequireManage();
        await using var db = await dbFactory.CreateAsync(ct);
        var connection = await db.LangSmithConnections.AsNoTracking().SingleOrDefaultAsync(c => c.Id == id, ct) ?? throw NotFound(id);
        return await InfoAsync(db, connection, ct);
    }

    public async Task<LangSmithConnectionInfo> CreateAsync(LangSmithConnectionInput input, CancellationToken ct = default)
    {
        var teamId = RequireManage();
        ArgumentNullException.ThrowIfNull(input);
        var apiUrl = await ApiUrlAsync(input.ApiUrl, ct);
        var apiKey = ApiKey(input.ApiKey) ?? throw new DomainValidationException("api_key", "Required: a LangSmith API key (lsv2_…).");
        var workspace = Workspace(input.WorkspaceId);
        var interval = Interval(input.SyncIntervalMinutes) ?? DefaultSyncIntervalMinutes;
        var feedbackKey = FeedbackKey(input.FeedbackKey) ?? DefaultFeedbackKey;
        if (input.Projects is null || input.Projects.Count == 0)
        {
            throw new DomainValidationException("projects", "Required: at least one project, as {\"name\"} or {\"id\"}.");
        }

        var wanted = ReadProjects(input.Projects);
        var listed = await ListForSaveAsync(new LangSmithEndpoint(apiUrl, apiKey, workspace), ct);
        var now = clock.GetUtcNow();
        await using var db = await dbFactory.CreateAsync(ct);
        if (await db.LangSmithConnections.CountAsync(ct) >= MaxConnections)
        {
            throw new DomainValidationException("api_url", $"A team has at most {MaxConnections} LangSmith connections; delete one first.");
        }

        var connection = new LangSmithConnection
        {
            Id = Uuid7.Create(now),
            TeamId = teamId,
            ApiUrl = apiUrl,
            ProtectedApiKey = protector.Protect(teamId, apiKey),
            KeyHint = Hint(apiKey),
            WorkspaceId = workspace,
            SyncIntervalMinutes = interval,
            PushFeedback = input.PushFeedback ?? true,
            FeedbackKey = feedbackKey,
            CreatedAt = now,
            CreatedBy = team.UserId ?? team.ApiKeyId?.ToString(),
            NextSyncAt = now,
        };
        db.LangSmithConnections.Add(connection);
        var projects = Resolve(wanted, listed).Select(r => NewProject(connection, r.Listing, r.StartTime)).ToList();
        db.LangSmithProjects.AddRange(projects);
        await db.SaveChangesAsync(ct);
        await audit.RecordAsync(AuditActions.LangSmithConnected, apiUrl, Details(connection, projects), ct);
        return ToInfo(connection, projects, LangSmithFeedbackCounts.None, now);
    }

    /// <summary>
    /// Changes what is given: a new key (checked against LangSmith), the URL or workspace, the interval, the feedback switch
    /// and key, and the projects (the list replaces the old one; a project kept keeps its progress, one removed forgets it).
    /// </summary>
    public async Task<LangSmithConnectionInfo> UpdateAsync(Guid id, LangSmithConnectionInput input, CancellationToken ct = default)
    {
        var teamId = RequireManage();
        ArgumentNullException.ThrowIfNull(input);
        await using var db = await dbFactory.CreateAsync(ct);
        var connection = await db.LangSmithConnections.SingleOrDefaultAsync(c => c.Id == id, ct) ?? throw NotFound(id);
        var projects = await db.LangSmithProjects.Where(p => p.ConnectionId == id).ToListAsync(ct);
        var apiUrl = input.ApiUrl is null ? connection.ApiUrl : await ApiUrlAsync(input.ApiUrl, ct);
        var apiKey = ApiKey(input.ApiKey);
        var workspace = input.WorkspaceId is null ? connection.WorkspaceId : Workspace(input.WorkspaceId);
        var interval = Interval(input.SyncIntervalMinutes);
        var feedbackKey = FeedbackKey(input.FeedbackKey);
        var wanted = input.Projects is null ? null : ReadProjects(input.Projects);
        if (wanted is { Count: 0 })
        {
            throw new DomainValidationException("projects", "Required: at least one project, as {\"name\"} or {\"id\"}.");
        }

        if (apiKey is not null || wanted is not null || apiUrl != connection.ApiUrl || workspace != connection.WorkspaceId)
        {
            var endpoint = new LangSmithEndpoint(apiUrl, apiKey ?? protector.Unprotect(teamId, connection.ProtectedApiKey), workspace);
            var listed = await ListForSaveAsync(endpoint, ct);
            if (wanted is not null)
            {
                var resolved = Resolve(wanted, listed);
                db.LangSmithProjects.RemoveRange(projects.Where(p => resolved.All(r => r.Listing.Id != p.ProjectId)));
                foreach (var (listing, startTime) in resolved)
                {
                    if (projects.FirstOrDefault(p => p.ProjectId == listing.Id) is { } kept)
                    {
                        kept.Name = listing.Name;
                        kept.EstimatedRuns = listing.RunCount;
                        if (kept.StartTime != startTime)
                        {
                            // An earlier start means runs not imported yet: a new backfill (stored runs are skipped as duplicates).
                            kept.StartTime = startTime;
                            kept.BackfillDone = false;
                            kept.PassActive = false;
                            kept.PassFrom = null;
                            kept.Cursor = null;
                            kept.PassNewest = null;
                        }
                    }
                    else
                    {
                        db.LangSmithProjects.Add(NewProject(connection, listing, startTime));
                    }
                }
            }
        }

        connection.ApiUrl = apiUrl;
        connection.WorkspaceId = workspace;
        if (apiKey is not null)
        {
            connection.ProtectedApiKey = protector.Protect(teamId, apiKey);
            connection.KeyHint = Hint(apiKey);
            connection.LastError = null;
        }

        connection.SyncIntervalMinutes = interval ?? connection.SyncIntervalMinutes;
        connection.PushFeedback = input.PushFeedback ?? connection.PushFeedback;
        connection.FeedbackKey = feedbackKey ?? connection.FeedbackKey;
        await db.SaveChangesAsync(ct);
        var now = await db.LangSmithProjects.AsNoTracking().Where(p => p.ConnectionId == id).ToListAsync(ct);
        await audit.RecordAsync(AuditActions.LangSmithChanged, connection.ApiUrl, Details(connection, now, keyChanged: apiKey is not null), ct);
        return ToInfo(connection, now, (await FeedbackCountsAsync(db, id, ct)).GetValueOrDefault(id), clock.GetUtcNow());
    }

    /// <summary>Deletes the connection with its projects' progress and import log; the traces it imported stay.</summary>
    public async Task DeleteAsync(Guid id, CancellationToken ct = default)
    {
        RequireManage();
        await using var db = await dbFactory.CreateAsync(ct);
        var connection = await db.LangSmithConnections.SingleOrDefaultAsync(c => c.Id == id, ct) ?? throw NotFound(id);
        db.LangSmithProjects.RemoveRange(await db.LangSmithProjects.Where(p => p.ConnectionId == id).ToListAsync(ct));
        db.LangSmithImportIssues.RemoveRange(await db.LangSmithImportIssues.Where(p => p.ConnectionId == id).ToListAsync(ct));
        db.LangSmithConnections.Remove(connection);
        await db.SaveChangesAsync(ct);
        await audit.RecordAsync(AuditActions.LangSmithDeleted, connection.ApiUrl, new Dictionary<string, string?> { ["id"] = id.ToString() }, ct);
    }

    /// <summary>Asks the sync job to take the connection at its next run (within a minute); a paused connection must be resumed first.</summary>
    public async Task<LangSmithConnectionInfo> SyncNowAsync(Guid id, CancellationToken ct = default)
    {
        RequireManage();
        await using var db = await dbFactory.CreateAsync(ct);
        var connection = await db.LangSmithConnections.SingleOrDefaultAsync(c => c.Id == id, ct) ?? throw NotFound(id);
        if (connection.Paused)
        {
            throw new ConflictException("The connection is paused; resume it first.");
        }

        connection.NextSyncAt = clock.GetUtcNow();
        await db.SaveChangesAsync(ct);
        return await InfoAsync(db, connection, ct);
    }

    /// <summary>Pauses (no sync runs; one running stops after its page) or resumes (from the saved cursors, at once).</summary>
    public async Task<LangSmithConnectionInfo> SetPausedAsync(Guid id, bool paused, CancellationToken ct = default)
    {
        RequireManage();
        await using var db = await dbFactory.CreateAsync(ct);
        var connection = await db.LangSmithConnections.SingleOrDefaultAsync(c => c.Id == id, ct) ?? throw NotFound(id);
        if (connection.Paused != paused)
        {
            connection.Paused = paused;
            if (!paused)
            {
                connection.NextSyncAt = clock.GetUtcNow();
            }

            await db.SaveChangesAsync(ct);
            await audit.RecordAsync(paused ? AuditActions.LangSmithPaused : AuditActions.LangSmithResumed, connection.ApiUrl,
                new Dictionary<string, string?> { ["id"] = id.ToString() }, ct);
        }

        return await InfoAsync(db, connection, ct);
    }

    /// <summary>"Test connection" with the stored key: <c>GET /info</c>, then the projects LangSmith lists.</summary>
    public async Task<LangSmithTestResult> TestAsync(Guid id, CancellationToken ct = default)
    {
        var teamId = RequireManage();
        await using var db = await dbFactory.CreateAsync(ct);
        var connection = await db.LangSmithConnections.AsNoTracking().SingleOrDefaultAsync(c => c.Id == id, ct) ?? throw NotFound(id);
        var endpoint = new LangSmithEndpoint(connection.ApiUrl, protector.Unprotect(teamId, connection.ProtectedApiKey), connection.WorkspaceId);
        try
        {
            var info = await client.InfoAsync(endpoint, ct);
            var projects = await client.ListProjectsAsync(endpoint, ct);
            return new LangSmithTestResult(true, 200, null, LangSmithClient.Text(info["version"]), projects);
        }
        catch (LangSmithApiException e)
        {
            return new LangSmithTestResult(false, e.Status, e.Message, null, []);
        }
    }

    /// <summary>The connection's import log, newest first: runs that could not be stored and why.</summary>
    public async Task<IReadOnlyList<LangSmithImportIssueInfo>> IssuesAsync(Guid id, int limit, CancellationToken ct = default)
    {
        RequireManage();
        await using var db = await dbFactory.CreateAsync(ct);
        if (!await db.LangSmithConnections.AsNoTracking().AnyAsync(c => c.Id == id, ct))
        {
            throw NotFound(id);
        }

        var rows = await db.LangSmithImportIssues.AsNoTracking().Where(i => i.ConnectionId == id)
            .OrderByDescending(i => i.Id).Take(Math.Clamp(limit, 1, 500)).ToListAsync(ct);
        return rows.Select(i => new LangSmithImportIssueInfo(i.Id, i.ProjectId, i.RunId, i.Reason, i.At)).ToList();
    }

    /// <summary>The connection's reviews sent back as feedback, newest change first, optionally in one state (<c>failed</c>: with LangSmith's reasons).</summary>
    public async Task<IReadOnlyList<LangSmithFeedbackInfo>> FeedbackAsync(Guid id, string? status, int limit, CancellationToken ct = default)
    {
        RequireManage();
        LangSmithFeedbackStatus? wanted = status switch
        {
            null or "" => null,
            "pending" => LangSmithFeedbackStatus.Pending,
            "sent" => LangSmithFeedbackStatus.Sent,
            "failed" => LangSmithFeedbackStatus.Failed,
            _ => throw new DomainValidationException("status", "Must be pending, sent or failed."),
        };
        await using var db = await dbFactory.CreateAsync(ct);
        if (!await db.LangSmithConnections.AsNoTracking().AnyAsync(c => c.Id == id, ct))
        {
            throw NotFound(id);
        }

        var links = db.LangSmithFeedbackLinks.AsNoTracking().Where(l => l.ConnectionId == id);
        if (wanted is { } w)
        {
            links = links.Where(l => l.Status == w);
        }

        var rows = await links.OrderByDescending(l => l.UpdatedAt).ThenByDescending(l => l.Id).Take(Math.Clamp(limit, 1, 500)).ToListAsync(ct);
        return rows.Select(l => new LangSmithFeedbackInfo(l.Id, l.TraceId, l.RunId, l.Key, FormatStatus(l.Status), l.Version, l.SentVersion, l.LastError, l.UpdatedAt, l.SentAt)).ToList();
    }

    /// <summary>
    /// Redeliver for feedback (the outbox's Redeliver, ADR 45): each failed feedback's latest delivery is queued again as a
    /// new outbox row with the same event id (the feedback's id), so LangSmith still receives one feedback per trace and key.
    /// </summary>
    public async Task<int> RedeliverFeedbackAsync(Guid id, CancellationToken ct = default)
    {
        RequireManage();
        var now = clock.GetUtcNow();
        await using var db = await dbFactory.CreateAsync(ct);
        if (!await db.LangSmithConnections.AsNoTracking().AnyAsync(c => c.Id == id, ct))
        {
            throw NotFound(id);
        }

        var failed = await db.LangSmithFeedbackLinks.Where(l => l.ConnectionId == id && l.Status == LangSmithFeedbackStatus.Failed).ToListAsync(ct);
        var ids = failed.Select(l => l.Id).ToList();
        var latest = (await db.NotificationDeliveries.AsNoTracking().Where(d => d.LangSmithConnectionId == id && ids.Contains(d.EventId)).ToListAsync(ct))
            .GroupBy(d => d.EventId).ToDictionary(g => g.Key, g => g.MaxBy(d => d.Id)!);
        var queued = 0;
        foreach (var link in failed)
        {
            if (latest.GetValueOrDefault(link.Id) is not { } original)
            {
                continue;
            }

            var copy = Notifications.NotificationOutbox.NewDelivery(original.TeamId, null, Notifications.StoredNotification.FromJson(original.Payload), original.Payload, now);
            copy.LangSmithConnectionId = id;
            db.NotificationDeliveries.Add(copy);
            link.Status = LangSmithFeedbackStatus.Pending;
            link.UpdatedAt = now;
            queued++;
        }

        await db.SaveChangesAsync(ct);
        return queued;
    }

    internal static string FormatStatus(LangSmithFeedbackStatus status) => status switch
    {
        LangSmithFeedbackStatus.Sent => "sent",
        LangSmithFeedbackStatus.Failed => "failed",
        _ => "pending",
    };

    private async Task<LangSmithConnectionInfo> InfoAsync(IEvalDbContext db, LangSmithConnection connection, CancellationToken ct) =>
        ToInfo(connection, await db.LangSmithProjects.AsNoTracking().Where(p => p.ConnectionId == connection.Id).ToListAsync(ct),
            (await FeedbackCountsAsync(db, connection.Id, ct)).GetValueOrDefault(connection.Id), clock.GetUtcNow());

    /// <summary>The current team's feedback per connection (one, or all) and state.</summary>
    internal static async Task<Dictionary<Guid, LangSmithFeedbackCounts>> FeedbackCountsAsync(IEvalDbContext db, Guid? connectionId, CancellationToken ct)
    {
        var links = db.LangSmithFeedbackLinks.AsNoTracking();
        if (connectionId is { } id)
        {
            links = links.Where(l => l.ConnectionId == id);
        }

        var rows = await links.GroupBy(l => new { l.ConnectionId, l.Status }).Select(g => new { g.Key.ConnectionId, g.Key.Status, Count = g.LongCount() }).ToListAsync(ct);
        return rows.GroupBy(r => r.ConnectionId).ToDictionary(g => g.Key, g => new LangSmithFeedbackCounts(
            g.Where(r => r.Status == LangSmithFeedbackStatus.Sent).Sum(r => r.Count),
            g.Where(r => r.Status == LangSmithFeedbackStatus.Failed).Sum(r => r.Count),
            g.Where(r => r.Status == LangSmithFeedbackStatus.Pending).Sum(r => r.Count)));
    }

    internal static LangSmithConnectionInfo ToInfo(LangSmithConnection c, IEnumerable<LangSmithProject> projects, LangSmithFeedbackCounts? feedback, DateTimeOffset now)
    {
        feedback ??= LangSmithFeedbackCounts.None;
        var list = projects.OrderBy(p => p.Name, StringComparer.Ordinal).Select(p => ToStatus(p, now)).ToList();
        return new LangSmithConnectionInfo(c.Id, c.ApiUrl, c.KeyHint, c.WorkspaceId, c.SyncIntervalMinutes, c.PushFeedback, c.FeedbackKey,
            c.Paused, c.CreatedAt, c.LastSyncAt, c.NextSyncAt, c.LastError, list.Sum(p => p.RunsImported), list.Sum(p => p.TracesImported),
            list.Sum(p => p.Errors), feedback.Sent, feedback.Failed, list, feedback.Pending, list.Sum(p => p.RunsImportedToday));
    }

    private static LangSmithProjectStatus ToStatus(LangSmithProject p, DateTimeOffset now)
    {
        var rate = LangSmithProgress.RunsPerMinute(p);
        return new LangSmithProjectStatus(
            p.ProjectId, p.Name, p.StartTime, p.BackfillDone, p.EstimatedRuns, p.RunsSeen, p.RunsImported, p.TracesImported, p.Errors,
            p.LastSyncAt, p.LastError, p.Newest ?? p.PassNewest, LangSmithProgress.ImportedToday(p, now),
            rate is { } r ? Math.Round(r, 1) : null, LangSmithProgress.TimeLeft(p, rate) is { } left ? (long)left.TotalSeconds : null);
    }

    private async Task<string> ApiUrlAsync(string? value, CancellationToken ct)
    {
        var url = string.IsNullOrWhiteSpace(value) ? DefaultApiUrl : value.Trim().TrimEnd('/');
        if (url.Length > 2_000)
        {
            throw new DomainValidationException("api_url", "At most 2000 characters.");
        }

        await guard.RequireAllowedAsync(url, "api_url", ct);
        var uri = new Uri(url);
        if (!string.IsNullOrEmpty(uri.Query) || !string.IsNullOrEmpty(uri.Fragment))
        {
            throw new DomainValidationException("api_url", "Must not carry a query or fragment.");
        }

        // The SDK's self-hosted form ends in /api/v1; the connector adds that itself.
        return url.EndsWith("/api/v1", StringComparison.OrdinalIgnoreCase) ? url[..^"/api/v1".Length] : url;
    }

    private static string? ApiKey(string? value)
    {
        if (value is null)
        {
            return null;
        }

        var key = value.Trim();
        return key.Length is > 0 and <= 1_000 && !key.Any(char.IsWhiteSpace)
            ? key
            : throw new DomainValidationException("api_key", "Must be a LangSmith API key: 1 to 1000 characters without spaces.");
    }

    private static string? Workspace(string? value) =>
        string.IsNullOrWhiteSpace(value) ? null
        : Guid.TryParse(value.Trim(), out var id) ? id.ToString("D")
        : throw new DomainValidationException("workspace_id", "Must be the workspace's UUID (LangSmith → Settings → Workspaces).");

    private static int? Interval(int? value) =>
        value is null or (>= 1 and <= 1_440) ? value
        : throw new DomainValidationException("sync_interval_minutes", "Must be between 1 and 1440 minutes.");

    private static string? FeedbackKey(string? value) =>
        value is null ? null
        : value.Trim() is { Length: > 0 and <= 100 } key ? key
        : throw new DomainValidationException("feedback_key", "Must be 1 to 100 characters.");

    private static string Hint(string apiKey) => apiKey.Length <= 8 ? "" : apiKey[^4..];

    private sealed record WantedProject(int Index, Guid? Id, string? Name, DateTimeOffset? StartTime);

    private static List<WantedProject> ReadProjects(IReadOnlyList<LangSmithProjectInput> projects)
    {
        if (projects.Count > MaxProjects)
        {
            throw new DomainValidationException("projects", $"At most {MaxProjects} projects per connection.");
        }

        var result = new List<WantedProject>();
        for (var i = 0; i < projects.Count; i++)
        {
            var p = projects[i] ?? throw new DomainValidationException($"projects[{i}]", "Must be an object with name or id.");
            Guid? id = null;
            if (!string.IsNullOrWhiteSpace(p.Id))
            {
                id = Guid.TryParse(p.Id.Trim(), out var g) ? g : throw new DomainValidationException($"projects[{i}].id", "Must be the project's UUID.");
            }

            var name = string.IsNullOrWhiteSpace(p.Name) ? null : p.Name.Trim();
            if (id is null && name is null)
            {
                throw new DomainValidationException($"projects[{i}].name", "Required: the project's name (or its id).");
            }

            DateTimeOffset? start = null;
            if (!string.IsNullOrWhiteSpace(p.StartTime))
            {
                start = DateTimeOffset.TryParse(p.StartTime, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var t)
                    ? t : throw new DomainValidationException($"projects[{i}].start_time", "Must be an ISO 8601 date or date-time.");
            }

            result.Add(new WantedProject(i, id, name, start));
        }

        return result;
    }

    private static List<(LangSmithProjectListing Listing, DateTimeOffset? StartTime)> Resolve(List<WantedProject> wanted, IReadOnlyList<LangSmithProjectListing> listed)
    {
        var result = new List<(LangSmithProjectListing, DateTimeOffset?)>();
        foreach (var w in wanted)
        {
            var found = w.Id is { } id ? listed.FirstOrDefault(l => l.Id == id) : listed.FirstOrDefault(l => l.Name == w.Name);
            if (found is null)
            {
                throw new DomainValidationException($"projects[{w.Index}].{(w.Id is null ? "name" : "id")}",
                    $"LangSmith lists no project {(w.Id?.ToString() ?? $"named '{w.Name}'")} for this key{(listed.Count == 0 ? "" : $" (it lists {string.Join(", ", listed.Take(10).Select(l => l.Name))})")}.");
            }

            if (result.Any(r => r.Item1.Id == found.Id))
            {
                throw new DomainValidationException($"projects[{w.Index}]", $"The project '{found.Name}' is listed twice.");
            }

            result.Add((found, w.StartTime));
        }

        return result;
    }

    /// <summary>LangSmith's projects for the key being saved; its refusal is a 400 naming the field at fault.</summary>
    private async Task<IReadOnlyList<LangSmithProjectListing>> ListForSaveAsync(LangSmithEndpoint endpoint, CancellationToken ct)
    {
        try
        {
            return await client.ListProjectsAsync(endpoint, ct);
        }
        catch (LangSmithApiException e)
        {
            var field = e.Status switch
            {
                401 => "api_key",
                403 => endpoint.WorkspaceId is null ? "api_key" : "workspace_id",
                _ => "api_url",
            };
            throw new DomainValidationException(field, e.Message);
        }
    }

    private static LangSmithProject NewProject(LangSmithConnection connection, LangSmithProjectListing listing, DateTimeOffset? startTime) => new()
    {
        Id = Uuid7.Create(connection.CreatedAt),
        TeamId = connection.TeamId,
        ConnectionId = connection.Id,
        ProjectId = listing.Id,
        Name = listing.Name,
        StartTime = startTime,
        EstimatedRuns = listing.RunCount,
    };

    private static Dictionary<string, string?> Details(LangSmithConnection c, IEnumerable<LangSmithProject> projects, bool keyChanged = false) => new()
    {
        ["id"] = c.Id.ToString(),
        ["api_url"] = c.ApiUrl,
        ["key_hint"] = c.KeyHint,
        ["key_changed"] = keyChanged ? "true" : null,
        ["workspace_id"] = c.WorkspaceId,
        ["projects"] = string.Join(", ", projects.Select(p => p.Name)),
        ["sync_interval_minutes"] = c.SyncIntervalMinutes.ToString(CultureInfo.InvariantCulture),
        ["push_feedback"] = c.PushFeedback ? "true" : "false",
    };

    private static NotFoundException NotFound(Guid id) => new($"No LangSmith connection {id} in this team.");

    private Guid RequireManage() => team.Can(Permission.ManageIntegrations) && team.TeamId is { } id
        ? id
        : throw new PermissionDeniedException("Managing LangSmith connections needs the Admin role or an API key with the 'admin' scope.");
}
