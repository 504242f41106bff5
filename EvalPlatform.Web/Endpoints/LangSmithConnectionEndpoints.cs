using System.Text.Json.Serialization;
using EvalPlatform.Core.LangSmith.Connector;
using EvalPlatform.Core.Teams;
using EvalPlatform.Web.Auth;
using Microsoft.AspNetCore.Http.HttpResults;

namespace EvalPlatform.Web.Endpoints;

/// <summary>
/// The team's LangSmith connections (issue 18), with an <c>admin</c> key: connect, change, delete, test, sync now,
/// pause and resume, and read the import log. The key is accepted, never returned (a four-character hint is).
/// </summary>
public static class LangSmithConnectionEndpoints
{
    public sealed record ProjectRequest(string? Id, string? Name, [property: JsonPropertyName("start_time")] string? StartTime);

    public sealed record ConnectionRequest(
        [property: JsonPropertyName("api_url")] string? ApiUrl,
        [property: JsonPropertyName("api_key")] string? ApiKey,
        [property: JsonPropertyName("workspace_id")] string? WorkspaceId,
        IReadOnlyList<ProjectRequest>? Projects,
        [property: JsonPropertyName("sync_interval_minutes")] int? SyncIntervalMinutes,
        [property: JsonPropertyName("push_feedback")] bool? PushFeedback,
        [property: JsonPropertyName("feedback_key")] string? FeedbackKey)
    {
        public LangSmithConnectionInput ToInput() => new(ApiUrl, ApiKey, WorkspaceId,
            Projects?.Select(p => p is null ? null! : new LangSmithProjectInput(p.Id, p.Name, p.StartTime)).ToList(),
            SyncIntervalMinutes, PushFeedback, FeedbackKey);
    }

    public sealed record ConnectionsResponse(IReadOnlyList<LangSmithConnectionInfo> Items);

    public sealed record IssuesResponse(IReadOnlyList<LangSmithImportIssueInfo> Items);

    public sealed record FeedbackResponse(IReadOnlyList<LangSmithFeedbackInfo> Items);

    public sealed record RedeliverResponse(int Queued);

    public static RouteGroupBuilder MapLangSmithConnectionEndpoints(this RouteGroupBuilder api)
    {
        var group = api.MapGroup("/integrations/langsmith").WithTags("Integrations").RequirePermission(Permission.ManageIntegrations);
        group.MapGet("/", ListAsync)
            .WithName("ListLangSmithConnections").WithSummary("The team's LangSmith connections with their status, oldest first (never their keys)");
        group.MapPost("/", CreateAsync)
            .WithName("CreateLangSmithConnection")
            .WithSummary("Connect LangSmith: {api_url, api_key, workspace_id, projects: [{name} or {id}, start_time], sync_interval_minutes, push_feedback, feedback_key}");
        group.MapGet("/{id:guid}", GetAsync)
            .WithName("GetLangSmithConnection").WithSummary("A connection's status: last sync, runs and traces imported, errors, feedback sent and failed, per project");
        group.MapPut("/{id:guid}", UpdateAsync)
            .WithName("UpdateLangSmithConnection").WithSummary("Change a connection: the fields given (a new api_key, the projects list replacing the old one)");
        group.MapDelete("/{id:guid}", DeleteAsync)
            .WithName("DeleteLangSmithConnection").WithSummary("Delete a connection and its progress (the imported traces stay)");
        group.MapPost("/{id:guid}/sync", SyncAsync)
            .WithName("SyncLangSmithConnection").WithSummary("Sync now: the sync job takes the connection at its next run (within a minute)");
        group.MapPost("/{id:guid}/pause", PauseAsync)
            .WithName("PauseLangSmithConnection").WithSummary("Pause the import (a running page finishes; the cursor is kept)");
        group.MapPost("/{id:guid}/resume", ResumeAsync)
            .WithName("ResumeLangSmithConnection").WithSummary("Resume the import from its saved cursors");
        group.MapPost("/{id:guid}/test", TestAsync)
            .WithName("TestLangSmithConnection").WithSummary("GET /info and the projects LangSmith lists, with the stored key; ok, or LangSmith's message");
        group.MapGet("/{id:guid}/issues", IssuesAsync)
            .WithName("ListLangSmithImportIssues").WithSummary("The import log: runs that could not be stored and why, newest first");
        group.MapPost("/{id:guid}/dry-run", DryRunAsync)
            .WithName("DryRunLangSmithImport").WithSummary("What a backfill would import: LangSmith's runs and traces per project from its start time, and the date range; stores nothing");
        group.MapGet("/{id:guid}/reconciliation", ReconcileAsync)
            .WithName("ReconcileLangSmithImport").WithSummary("LangSmith's runs and traces per project against the traces, spans and import log stored here");
        group.MapGet("/{id:guid}/feedback", FeedbackAsync)
            .WithName("ListLangSmithFeedback").WithSummary("Reviews sent back as feedback, newest change first; ?status=pending|sent|failed (failed ones with LangSmith's reason)");
        group.MapPost("/{id:guid}/feedback/redeliver", RedeliverFeedbackAsync)
            .WithName("RedeliverLangSmithFeedback").WithSummary("Queue every failed feedback again through the outbox (same feedback ids)");
        return group;
    }

    private static async Task<Ok<ConnectionsResponse>> ListAsync(LangSmithConnections service, CancellationToken ct) =>
        TypedResults.Ok(new ConnectionsResponse(await service.ListAsync(ct)));

    private static async Task<Created<LangSmithConnectionInfo>> CreateAsync(ConnectionRequest body, LangSmithConnections service, CancellationToken ct)
    {
        var created = await service.CreateAsync(body.ToInput(), ct);
        return TypedResults.Created($"/api/v1/integrations/langsmith/{created.Id}", created);
    }

    private static async Task<Ok<LangSmithConnectionInfo>> GetAsync(Guid id, LangSmithConnections service, CancellationToken ct) =>
        TypedResults.Ok(await service.GetAsync(id, ct));

    private static async Task<Ok<LangSmithConnectionInfo>> UpdateAsync(Guid id, ConnectionRequest body, LangSmithConnections service, CancellationToken ct) =>
        TypedResults.Ok(await service.UpdateAsync(id, body.ToInput(), ct));

    private static async Task<NoContent> DeleteAsync(Guid id, LangSmithConnections service, CancellationToken ct)
    {
        await service.DeleteAsync(id, ct);
        return TypedResults.NoContent();
    }

    private static async Task<Accepted<LangSmithConnectionInfo>> SyncAsync(Guid id, LangSmithConnections service, CancellationToken ct) =>
        TypedResults.Accepted($"/api/v1/integrations/langsmith/{id}", await service.SyncNowAsync(id, ct));

    private static async Task<Ok<LangSmithConnectionInfo>> PauseAsync(Guid id, LangSmithConnections service, CancellationToken ct) =>
        TypedResults.Ok(await service.SetPausedAsync(id, true, ct));

    private static async Task<Ok<LangSmithConnectionInfo>> ResumeAsync(Guid id, LangSmithConnections service, CancellationToken ct) =>
        TypedResults.Ok(await service.SetPausedAsync(id, false, ct));

    private static async Task<Ok<LangSmithTestResult>> TestAsync(Guid id, LangSmithConnections service, CancellationToken ct) =>
        TypedResults.Ok(await service.TestAsync(id, ct));

    private static async Task<Ok<LangSmithDryRun>> DryRunAsync(Guid id, LangSmithReconciliations service, CancellationToken ct) =>
        TypedResults.Ok(await service.DryRunAsync(id, ct));

    private static async Task<Ok<LangSmithReconciliation>> ReconcileAsync(Guid id, LangSmithReconciliations service, CancellationToken ct) =>
        TypedResults.Ok(await service.ReconcileAsync(id, ct));

    private static async Task<Ok<FeedbackResponse>> FeedbackAsync(Guid id, LangSmithConnections service, CancellationToken ct, string? status = null, int limit = 100) =>
        TypedResults.Ok(new FeedbackResponse(await service.FeedbackAsync(id, status, limit, ct)));

    private static async Task<Accepted<RedeliverResponse>> RedeliverFeedbackAsync(Guid id, LangSmithConnections service, CancellationToken ct) =>
        TypedResults.Accepted($"/api/v1/integrations/langsmith/{id}/feedback", new RedeliverResponse(await service.RedeliverFeedbackAsync(id, ct)));

    private static async Task<Ok<IssuesResponse>> IssuesAsync(Guid id, LangSmithConnections service, CancellationToken ct, int limit = 100) =>
        TypedResults.Ok(new IssuesResponse(await service.IssuesAsync(id, limit, ct)));
}
