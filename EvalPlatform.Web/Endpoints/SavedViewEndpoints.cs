using System.Text.Json;
using EvalPlatform.Core.Ingestion;
using EvalPlatform.Core.Queues;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Traces;
using EvalPlatform.Core.Traces.Views;
using EvalPlatform.Web.Auth;
using Microsoft.AspNetCore.Http.HttpResults;

namespace EvalPlatform.Web.Endpoints;

/// <summary>
/// Saved views of the trace list (ADR 46): a named filter and column set, personal or shared with the team. Anyone who reads
/// traces lists, reads and makes views; a shared view of someone else's is changed only with <c>ManageSharedViews</c>.
/// </summary>
public static class SavedViewEndpoints
{
    /// <param name="Name">Shown in the picker; unique among the team's shared views and the caller's own.</param>
    /// <param name="Filter">The trace list's filters, as in a queue's definition (<c>{"status":"pending","model":"gpt"}</c>); omitted: every trace.</param>
    /// <param name="Columns">Column keys in order (<c>time</c>, <c>status</c>, <c>name</c>, <c>model</c>…); omitted: the view keeps the reader's columns.</param>
    /// <param name="Shared">True: the whole team sees it. Default false (personal).</param>
    public sealed record ViewRequest(string? Name, JsonElement? Filter, IReadOnlyList<string>? Columns, bool? Shared);

    /// <param name="Id">The view's id.</param>
    /// <param name="Name">Its name.</param>
    /// <param name="Shared">True when the whole team sees it.</param>
    /// <param name="Owner">Who made it: a user id, or <c>api-key:{id}</c>.</param>
    /// <param name="Filter">The trace list's filters.</param>
    /// <param name="Columns">Column keys in order, or null (the reader's own columns).</param>
    /// <param name="CanEdit">Whether the caller may change or delete it.</param>
    /// <param name="CreatedAt">When it was made.</param>
    /// <param name="UpdatedAt">When it last changed.</param>
    public sealed record ViewResponse(
        Guid Id, string Name, bool Shared, string Owner, JsonElement Filter, IReadOnlyList<string>? Columns, bool CanEdit, DateTimeOffset CreatedAt,
        DateTimeOffset UpdatedAt);

    private static readonly HashSet<string> FilterFields = typeof(TraceFilter).GetConstructors()[0].GetParameters()
        .Select(p => JsonNamingPolicy.SnakeCaseLower.ConvertName(p.Name!)).ToHashSet(StringComparer.Ordinal);

    public static RouteGroupBuilder MapSavedViewEndpoints(this RouteGroupBuilder api)
    {
        var views = api.MapGroup("/views").WithTags("Saved views").RequirePermission(Permission.ViewTraces);
        views.MapGet("/", ListAsync).WithName("ListSavedViews").WithSummary("The team's shared views and the caller's own, by name");
        views.MapPost("/", CreateAsync).Accepts<ViewRequest>("application/json")
            .WithName("CreateSavedView").WithSummary("Save a named filter and column set, personal or shared with the team");
        views.MapGet("/{id:guid}", GetAsync).WithName("GetSavedView").WithSummary("One view the caller can see");
        views.MapPut("/{id:guid}", UpdateAsync).Accepts<ViewRequest>("application/json")
            .WithName("UpdateSavedView").WithSummary("Replace a view (its owner; a shared one also with ManageSharedViews)");
        views.MapDelete("/{id:guid}", DeleteAsync)
            .WithName("DeleteSavedView").WithSummary("Delete a view (its owner; a shared one also with ManageSharedViews)");
        return views;
    }

    private static async Task<Ok<List<ViewResponse>>> ListAsync(SavedViewService views, CancellationToken ct) =>
        TypedResults.Ok((await views.ListAsync(ct)).Select(ToResponse).ToList());

    private static async Task<Ok<ViewResponse>> GetAsync(Guid id, SavedViewService views, CancellationToken ct) =>
        TypedResults.Ok(ToResponse(await views.GetAsync(id, ct)));

    private static async Task<Created<ViewResponse>> CreateAsync(HttpRequest request, SavedViewService views, CancellationToken ct)
    {
        var view = await views.CreateAsync(await ReadInputAsync(request, ct), ct);
        return TypedResults.Created($"/api/v1/views/{view.Id}", ToResponse(view));
    }

    private static async Task<Ok<ViewResponse>> UpdateAsync(Guid id, HttpRequest request, SavedViewService views, CancellationToken ct)
    {
        // Looked up before the body is judged: another team's id is a 404 whatever the body says.
        await views.GetAsync(id, ct);
        return TypedResults.Ok(ToResponse(await views.UpdateAsync(id, await ReadInputAsync(request, ct), ct)));
    }

    private static async Task<NoContent> DeleteAsync(Guid id, SavedViewService views, CancellationToken ct)
    {
        await views.DeleteAsync(id, ct);
        return TypedResults.NoContent();
    }

    /// <summary>The body as a view; an unknown field (also inside <c>filter</c>) or a wrong type is a 400 naming it.</summary>
    private static async Task<SavedViewInput> ReadInputAsync(HttpRequest request, CancellationToken ct)
    {
        var body = await AlertEndpoints.ReadAsync<ViewRequest>(request, ct);
        TraceFilter? filter = null;
        if (body.Filter is { ValueKind: not JsonValueKind.Null } json)
        {
            if (json.ValueKind != JsonValueKind.Object)
            {
                throw new InputValidationException([new FieldError("filter", "Must be an object of the trace list's filters.")]);
            }

            AnalyticsEndpoints.ThrowIfAny(json.EnumerateObject().Where(p => !FilterFields.Contains(p.Name))
                .Select(p => new FieldError("filter." + p.Name, $"Unknown filter. One of: {string.Join(", ", FilterFields)}.")).ToList());
            try
            {
                filter = QueueFilterJson.Read(json.GetRawText());
            }
            catch (JsonException e)
            {
                var path = string.IsNullOrEmpty(e.Path) || e.Path == "$" ? "" : "." + e.Path.TrimStart('$', '.');
                throw new InputValidationException([new FieldError("filter" + path, "Has the wrong type or an unknown value.")]);
            }
        }

        return new SavedViewInput(body.Name, filter, body.Columns, body.Shared ?? false);
    }

    private static ViewResponse ToResponse(SavedViewInfo v) => new(
        v.Id, v.Name, v.Shared, v.OwnerId, JsonSerializer.Deserialize<JsonElement>(QueueFilterJson.Write(v.Filter)), v.Columns, v.CanEdit,
        v.CreatedAt, v.UpdatedAt);
}
