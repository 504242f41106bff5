using System.Globalization;
using EvalPlatform.Core.Analytics;
using EvalPlatform.Core.Common;
using EvalPlatform.Core.Providers;
using EvalPlatform.Core.Teams;
using EvalPlatform.Web.Auth;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace EvalPlatform.Web.Endpoints;

/// <summary>
/// The team's provider connections (OpenAI, Anthropic, OpenAI-compatible servers), their usage and the team's model
/// prices; all with an <c>admin</c> key. Keys are accepted, never returned (a four-character hint is).
/// </summary>
public static class ProviderEndpoints
{
    public sealed record ProviderRequest(string? Kind, string? Name, string? BaseUrl, string? ApiKey);

    public sealed record ProvidersResponse(IReadOnlyList<ProviderInfo> Items);

    public sealed record ModelsResponse(IReadOnlyList<string> Items);

    public sealed record PricesRequest(IReadOnlyList<ProviderPriceInput>? Items);

    public static RouteGroupBuilder MapProviderEndpoints(this RouteGroupBuilder api)
    {
        var providers = api.MapGroup("/providers").WithTags("Providers").RequirePermission(Permission.ManageProviders);
        providers.MapGet("/", ListAsync)
            .WithName("ListProviders").WithSummary("The team's provider connections, oldest first (never their keys)");
        providers.MapPost("/", CreateAsync)
            .WithName("CreateProvider").WithSummary("Connect a provider: {kind: openai|anthropic|openai_compatible, name, base_url, api_key}");
        providers.MapDelete("/{id:guid}", DeleteAsync)
            .WithName("DeleteProvider").WithSummary("Delete a connection (its calls stay counted)");
        providers.MapPost("/{id:guid}/test", TestAsync)
            .WithName("TestProvider").WithSummary("Call the provider's models endpoint with the stored key; ok, or the provider's message");
        providers.MapGet("/{id:guid}/models", ModelsAsync)
            .WithName("ListProviderModels").WithSummary("The models the provider lists (502 with its message when it refuses)");
        providers.MapGet("/{id:guid}/usage", UsageAsync)
            .WithName("GetProviderUsage").WithSummary("Requests, errors, tokens, cost and latency p50/p95 per bucket (default: the last 24 hours)");
        providers.MapGet("/prices", PricesAsync)
            .WithName("ListProviderPrices").WithSummary("The team's own model prices (USD per million tokens) and the built-in list they override");
        providers.MapPut("/prices", ReplacePricesAsync)
            .WithName("ReplaceProviderPrices").WithSummary("Replace the team's own model prices: {items: [{model_prefix, input_per_million, output_per_million}]}");
        return providers;
    }

    private static async Task<Ok<ProvidersResponse>> ListAsync(ProviderService service, CancellationToken ct) =>
        TypedResults.Ok(new ProvidersResponse(await service.ListAsync(ct)));

    private static async Task<Created<ProviderInfo>> CreateAsync(ProviderRequest body, ProviderService service, CancellationToken ct)
    {
        var created = await service.CreateAsync(new ProviderInput(body.Kind, body.Name, body.BaseUrl, body.ApiKey), ct);
        return TypedResults.Created($"/api/v1/providers/{created.Id}", created);
    }

    private static async Task<NoContent> DeleteAsync(Guid id, ProviderService service, CancellationToken ct)
    {
        await service.DeleteAsync(id, ct);
        return TypedResults.NoContent();
    }

    private static async Task<Ok<ProviderTestResult>> TestAsync(Guid id, ProviderService service, CancellationToken ct) =>
        TypedResults.Ok(await service.TestAsync(id, ct));

    private static async Task<Results<Ok<ModelsResponse>, ProblemHttpResult>> ModelsAsync(Guid id, ProviderService service, CancellationToken ct)
    {
        var result = await service.ModelsAsync(id, ct);
        if (result.Models is { } models)
        {
            return TypedResults.Ok(new ModelsResponse(models));
        }

        return TypedResults.Problem(
            detail: result.Error, statusCode: StatusCodes.Status502BadGateway, title: "The provider refused",
            extensions: new Dictionary<string, object?> { ["upstream_status"] = result.Status });
    }

    private static async Task<Ok<ProviderUsageReport>> UsageAsync(
        Guid id, ProviderService service, TimeProvider clock, CancellationToken ct,
        [FromQuery] string? from = null, [FromQuery] string? to = null, [FromQuery] string? interval = null)
    {
        var end = Time("to", to) ?? MetricInterval.Minute.Floor(clock.GetUtcNow()) + TimeSpan.FromMinutes(1);
        var start = Time("from", from) ?? end - TimeSpan.FromHours(24);
        var bucket = MetricIntervals.Fit(end - start);
        if (!string.IsNullOrEmpty(interval) && !MetricIntervals.TryParse(interval, out bucket))
        {
            throw new DomainValidationException("interval", "Must be minute, hour or day.");
        }

        return TypedResults.Ok(await service.UsageAsync(id, start, end, bucket, ct));
    }

    private static async Task<Ok<ProviderPriceList>> PricesAsync(ProviderService service, CancellationToken ct) =>
        TypedResults.Ok(await service.PricesAsync(ct));

    private static async Task<Ok<ProviderPriceList>> ReplacePricesAsync(PricesRequest body, ProviderService service, CancellationToken ct) =>
        TypedResults.Ok(await service.ReplacePricesAsync(body.Items, ct));

    private static DateTimeOffset? Time(string field, string? value)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return null;
        }

        return DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t)
            ? t.ToUniversalTime()
            : throw new DomainValidationException(field, "Must be an ISO 8601 date-time.");
    }
}
