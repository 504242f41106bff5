using System.Text.Json;
using EvalPlatform.Core.Queues;
using EvalPlatform.Core.Teams;
using EvalPlatform.Web.Auth;
using Microsoft.AspNetCore.Http.HttpResults;

namespace EvalPlatform.Web.Endpoints;

/// <summary>Review queues, read-only: definitions with their progress (scope <c>read</c>). Work is done in the app.</summary>
public static class QueueEndpoints
{
    public sealed record AssigneeResponse(string UserId, string Name);

    public sealed record QueueResponse(
        Guid Id, string Name, string? Instructions, JsonElement Filter, int? SamplePercent, int RequiredReviews, IReadOnlyList<AssigneeResponse> Assignees,
        int Done, int Remaining, int Disagreements, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

    public sealed record ReviewerProgressResponse(string UserId, string Name, int DoneToday, int DoneTotal, int Remaining);

    public sealed record AgreementResponse(int Items, double? PercentAgreement, double? CohensKappa, double? FleissKappa);

    public sealed record QueueProgressResponse(QueueResponse Queue, IReadOnlyList<ReviewerProgressResponse> Reviewers, AgreementResponse? Agreement);

    public static RouteGroupBuilder MapQueueEndpoints(this RouteGroupBuilder api)
    {
        var queues = api.MapGroup("/queues").WithTags("Review queues").RequirePermission(Permission.ViewTraces);
        queues.MapGet("/", ListAsync).WithName("ListQueues").WithSummary("The team's review queues with done, remaining and disagreement counts");
        queues.MapGet("/{id:guid}", GetAsync).WithName("GetQueue")
            .WithSummary("One queue's progress: counts, each reviewer's done today / in total / remaining, and agreement for multi-review queues");
        return api;
    }

    private static async Task<Ok<List<QueueResponse>>> ListAsync(QueueService queues, CancellationToken ct) =>
        TypedResults.Ok((await queues.ListAsync(ct)).Select(q => ToResponse(q.Queue, q.Counts)).ToList());

    private static async Task<Ok<QueueProgressResponse>> GetAsync(Guid id, QueueService queues, CancellationToken ct)
    {
        var p = await queues.GetProgressAsync(id, ct);
        return TypedResults.Ok(new QueueProgressResponse(
            ToResponse(p.Queue, p.Counts),
            p.Reviewers.Select(r => new ReviewerProgressResponse(r.UserId, r.Name, r.DoneToday, r.DoneTotal, r.Remaining)).ToList(),
            p.Agreement is { } a ? new AgreementResponse(a.Items, a.PercentAgreement, a.CohensKappa, a.FleissKappa) : null));
    }

    private static QueueResponse ToResponse(QueueInfo q, QueueCounts c) => new(
        q.Id, q.Name, q.Instructions, JsonSerializer.Deserialize<JsonElement>(QueueFilterJson.Write(q.Filter)), q.SamplePercent, q.RequiredReviews,
        q.Assignees.Select(a => new AssigneeResponse(a.UserId, a.Name)).ToList(), c.Done, c.Remaining, c.Disagreements, q.CreatedAt, q.UpdatedAt);
}
