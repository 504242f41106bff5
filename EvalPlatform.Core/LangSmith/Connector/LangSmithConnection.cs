using EvalPlatform.Core.Tenancy;

namespace EvalPlatform.Core.LangSmith.Connector;

/// <summary>
/// A team's connection to a LangSmith instance (issue 18): where it is, the key (encrypted for the team, never returned),
/// how often to sync, whether reviews go back as feedback, and the status the integration page shows.
/// </summary>
public sealed class LangSmithConnection : ITeamOwned
{
    public Guid Id { get; set; }
    public Guid TeamId { get; set; }

    /// <summary>The API's root, without <c>/api/v1</c> (<c>https://api.smith.langchain.com</c>, or a self-hosted one).</summary>
    public required string ApiUrl { get; set; }

    public required string ProtectedApiKey { get; set; }

    /// <summary>The key's last four characters, to tell keys apart.</summary>
    public required string KeyHint { get; set; }

    /// <summary>Sent as <c>X-Tenant-Id</c> when set (a key of several workspaces).</summary>
    public string? WorkspaceId { get; set; }

    public int SyncIntervalMinutes { get; set; }
    public bool PushFeedback { get; set; }

    /// <summary>The feedback key reviews are sent under (default <c>human_review</c>).</summary>
    public required string FeedbackKey { get; set; }

    /// <summary>Paused: no sync runs until resumed (a running one stops after its page).</summary>
    public bool Paused { get; set; }

    public DateTimeOffset CreatedAt { get; set; }
    public string? CreatedBy { get; set; }

    /// <summary>When the sync job next takes this connection; "sync now" sets it to now.</summary>
    public DateTimeOffset NextSyncAt { get; set; }

    public DateTimeOffset? LastSyncAt { get; set; }

    /// <summary>The last sync's failure as LangSmith (or the network) gave it; null once a sync succeeds.</summary>
    public string? LastError { get; set; }
}

/// <summary>
/// One LangSmith project imported by a connection, with its saved position: the pass in progress (its lower bound and
/// the cursor of the next page) and the newest run start seen by finished passes, so a restart resumes where it stopped.
/// </summary>
public sealed class LangSmithProject : ITeamOwned
{
    public Guid Id { get; set; }
    public Guid TeamId { get; set; }
    public Guid ConnectionId { get; set; }

    /// <summary>LangSmith's project ("session") id.</summary>
    public Guid ProjectId { get; set; }

    public required string Name { get; set; }

    /// <summary>Import runs that started at or after this (null: all of the project).</summary>
    public DateTimeOffset? StartTime { get; set; }

    /// <summary>A pass (the backfill, or an incremental sync) is in progress: it continues from <see cref="Cursor"/>.</summary>
    public bool PassActive { get; set; }

    /// <summary>The lower start time of the pass in progress (null: the whole project).</summary>
    public DateTimeOffset? PassFrom { get; set; }

    /// <summary>The cursor of the next page of the pass in progress (null: its first page).</summary>
    public string? Cursor { get; set; }

    /// <summary>The newest run start seen in the pass in progress.</summary>
    public DateTimeOffset? PassNewest { get; set; }

    /// <summary>The newest run start of the last finished pass: the next pass starts from it minus the overlap window.</summary>
    public DateTimeOffset? Newest { get; set; }

    /// <summary>Whether the first pass (the backfill) has finished.</summary>
    public bool BackfillDone { get; set; }

    /// <summary>LangSmith's run count when the connection listed the project (the backfill's estimate).</summary>
    public long? EstimatedRuns { get; set; }

    /// <summary>
    /// Feedback created in LangSmith up to this time has been read for the project (late feedback on runs older than the
    /// overlap window, ADR 45); the next check asks for feedback created since (less a margin).
    /// </summary>
    public DateTimeOffset? FeedbackCheckedAt { get; set; }

    public long RunsSeen { get; set; }
    public long RunsImported { get; set; }

    /// <summary>The UTC day (its midnight) <see cref="RunsImportedToday"/> counts; another day's count reads as none today.</summary>
    public DateTimeOffset? ImportDay { get; set; }

    public long RunsImportedToday { get; set; }

    /// <summary>
    /// When the sync last took up the unfinished backfill (its start, or a resume after a pause or a restart), with
    /// <see cref="BackfillRunsAtResume"/> the runs read by then: the backfill's rate is what it read since, over the time
    /// to its last saved page.
    /// </summary>
    public DateTimeOffset? BackfillResumedAt { get; set; }

    public long BackfillRunsAtResume { get; set; }
    public long TracesImported { get; set; }
    public long Errors { get; set; }
    public DateTimeOffset? LastSyncAt { get; set; }
    public string? LastError { get; set; }
}

/// <summary>A run the import could not store, with why; the import went on without it.</summary>
public sealed class LangSmithImportIssue : ITeamOwned
{
    public Guid Id { get; set; }
    public Guid TeamId { get; set; }
    public Guid ConnectionId { get; set; }
    public Guid? ProjectId { get; set; }
    public string? RunId { get; set; }
    public required string Reason { get; set; }
    public DateTimeOffset At { get; set; }
}
