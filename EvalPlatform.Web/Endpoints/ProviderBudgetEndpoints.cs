using System.Text.Json;
using EvalPlatform.Core.Common;
using EvalPlatform.Core.Providers.Proxy;
using EvalPlatform.Core.Teams;
using EvalPlatform.Web.Auth;
using EvalPlatform.Web.Ingestion;
using Microsoft.AspNetCore.Http.HttpResults;

namespace EvalPlatform.Web.Endpoints;

/// <summary>
/// The recording proxy's budgets (ADR 30): per team, per API key, per end user; requests, tokens or cost per minute, hour or
/// day. Read and replaced as a whole with an <c>admin</c> key.
/// </summary>
public static class ProviderBudgetEndpoints
{
    private const long MaxBodyBytes = 64 * 1024;

    /// <param name="Id">The budget's id.</param>
    /// <param name="Scope"><c>team</c>, <c>api_key</c> or <c>end_user</c>.</param>
    /// <param name="Metric"><c>requests</c>, <c>tokens</c> (input + output) or <c>cost</c> (USD).</param>
    /// <param name="Limit">The most a window may spend: a count of requests or tokens, or USD.</param>
    /// <param name="Window"><c>minute</c>, <c>hour</c> or <c>day</c> (fixed, UTC).</param>
    /// <param name="ApiKeyId">For an <c>api_key</c> budget: only this key (else each key on its own).</param>
    /// <param name="EndUser">For an <c>end_user</c> budget: only this user (else each user on its own).</param>
    /// <param name="CreatedAt">When it was set.</param>
    public sealed record BudgetResponse(Guid Id, string Scope, string Metric, decimal Limit, string Window, Guid? ApiKeyId, string? EndUser, DateTimeOffset CreatedAt);

    public sealed record BudgetListResponse(IReadOnlyList<BudgetResponse> Budgets);

    public static RouteGroupBuilder MapProviderBudgetEndpoints(this RouteGroupBuilder api)
    {
        var budgets = api.MapGroup("/providers/budgets").WithTags("Proxy").RequirePermission(Permission.ManageProviders);
        budgets.MapGet("/", ListAsync).WithName("ListProviderBudgets").WithSummary("The team's proxy budgets");
        budgets.MapPut("/", ReplaceAsync).WithName("ReplaceProviderBudgets")
            .WithSummary("Replace the team's proxy budgets: {\"budgets\":[{\"scope\",\"metric\",\"limit\",\"window\",\"api_key_id\"?,\"end_user\"?}]}")
            .Accepts<JsonElement>("application/json");
        budgets.MapDelete("/", ClearAsync).WithName("DeleteProviderBudgets").WithSummary("Remove all of the team's proxy budgets");
        return budgets;
    }

    private static async Task<Ok<BudgetListResponse>> ListAsync(ProviderBudgets service, CancellationToken ct) =>
        TypedResults.Ok(new BudgetListResponse((await service.ListAsync(ct)).Select(Of).ToList()));

    private static async Task<Ok<BudgetListResponse>> ReplaceAsync(HttpRequest request, ProviderBudgets service, CancellationToken ct)
    {
        using var body = await JsonBody.ReadAsync(request, MaxBodyBytes, ct);
        var inputs = Parse(body.RootElement);
        return TypedResults.Ok(new BudgetListResponse((await service.ReplaceAsync(inputs, ct)).Select(Of).ToList()));
    }

    private static async Task<NoContent> ClearAsync(ProviderBudgets service, CancellationToken ct)
    {
        await service.ReplaceAsync([], ct);
        return TypedResults.NoContent();
    }

    private static BudgetResponse Of(ProviderBudget b) =>
        new(b.Id, Wire(b.Scope), Wire(b.Metric), b.Limit, Wire(b.Window), b.ApiKeyId, b.EndUser, b.CreatedAt);

    /// <summary>The wire name of an enum value: snake_case (<c>ApiKey</c> → <c>api_key</c>).</summary>
    public static string Wire<T>(T value) where T : struct, Enum => JsonNamingPolicy.SnakeCaseLower.ConvertName(value.ToString());

    private static List<BudgetInput> Parse(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("budgets", out var list) || list.ValueKind != JsonValueKind.Array)
        {
            throw new DomainValidationException("budgets", "Required: an array of budgets (empty to remove them all).");
        }

        var inputs = new List<BudgetInput>();
        var i = 0;
        foreach (var item in list.EnumerateArray())
        {
            var at = $"budgets[{i++}]";
            if (item.ValueKind != JsonValueKind.Object)
            {
                throw new DomainValidationException(at, "A budget is an object.");
            }

            foreach (var p in item.EnumerateObject())
            {
                if (p.Name is not ("scope" or "metric" or "limit" or "window" or "api_key_id" or "end_user"))
                {
                    throw new DomainValidationException($"{at}.{p.Name}", "Unknown field: a budget takes scope, metric, limit, window, api_key_id, end_user.");
                }
            }

            var limit = item.TryGetProperty("limit", out var l) && l.ValueKind == JsonValueKind.Number && l.TryGetDecimal(out var d)
                ? d
                : throw new DomainValidationException($"{at}.limit", "Required: a number.");
            Guid? keyId = null;
            if (item.TryGetProperty("api_key_id", out var k) && k.ValueKind != JsonValueKind.Null)
            {
                keyId = k.ValueKind == JsonValueKind.String && Guid.TryParse(k.GetString(), out var g)
                    ? g
                    : throw new DomainValidationException($"{at}.api_key_id", "Must be an API key's id.");
            }

            string? endUser = null;
            if (item.TryGetProperty("end_user", out var u) && u.ValueKind != JsonValueKind.Null)
            {
                endUser = u.ValueKind == JsonValueKind.String ? u.GetString() : throw new DomainValidationException($"{at}.end_user", "Must be a string.");
            }

            inputs.Add(new BudgetInput(
                Enum<BudgetScope>(item, at, "scope"), Enum<BudgetMetric>(item, at, "metric"), limit, Enum<BudgetWindow>(item, at, "window"), keyId, endUser));
        }

        return inputs;
    }

    private static T Enum<T>(JsonElement item, string at, string field) where T : struct, Enum
    {
        var names = System.Enum.GetValues<T>().ToDictionary(v => Wire(v), StringComparer.Ordinal);
        return item.TryGetProperty(field, out var v) && v.ValueKind == JsonValueKind.String && names.TryGetValue(v.GetString()!, out var value)
            ? value
            : throw new DomainValidationException($"{at}.{field}", $"Required: one of {string.Join(", ", names.Keys)}.");
    }
}
