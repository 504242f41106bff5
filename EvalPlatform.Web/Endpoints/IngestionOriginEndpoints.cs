using System.Text.Json;
using EvalPlatform.Core.Ingestion;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Traces;
using EvalPlatform.Web.Auth;
using EvalPlatform.Web.Ingestion;
using Microsoft.AspNetCore.Http.HttpResults;

namespace EvalPlatform.Web.Endpoints;

/// <summary>
/// The team's browser origins for the ingestion routes' CORS (ADR 14): read with a <c>read</c> or <c>admin</c> key, replaced
/// with an <c>admin</c> key. Settings → Ingestion edits the same list.
/// </summary>
public static class IngestionOriginEndpoints
{
    /// <param name="Origins">The team's own list, in normal form.</param>
    /// <param name="ConfiguredOrigins">Allowed for every team by the server's configuration (<c>*</c>: any origin); read-only here.</param>
    public sealed record OriginsResponse(IReadOnlyList<string> Origins, IReadOnlyList<string> ConfiguredOrigins);

    /// <summary>The body of a replacement, for the API description (the endpoint reads the JSON itself to name each bad entry).</summary>
    public sealed record OriginsRequestDoc(IReadOnlyList<string> Origins);

    public const int MaxBodyBytes = 64 * 1024;

    public static RouteGroupBuilder MapIngestionOriginEndpoints(this RouteGroupBuilder api)
    {
        var origins = api.MapGroup("/ingestion/origins").WithTags("Ingestion");
        origins.MapGet("/", GetAsync).RequirePermission(Permission.ViewTraces)
            .WithName("GetIngestionOrigins").WithSummary("Browser origins that may send traces with this team's keys (CORS on the ingestion routes)");
        origins.MapPut("/", ReplaceAsync).RequirePermission(Permission.ManageApiKeys)
            .WithName("ReplaceIngestionOrigins").WithSummary("Replace the team's browser origins: scheme, host and optional port each; no wildcards")
            .Accepts<OriginsRequestDoc>("application/json");
        return origins;
    }

    private static async Task<Ok<OriginsResponse>> GetAsync(IngestionOriginService service, CancellationToken ct) =>
        TypedResults.Ok(ToResponse(await service.GetAsync(ct)));

    private static async Task<Ok<OriginsResponse>> ReplaceAsync(HttpRequest request, IngestionOriginService service, CancellationToken ct)
    {
        using var body = await JsonBody.ReadAsync(request, MaxBodyBytes, ct);
        return TypedResults.Ok(ToResponse(await service.ReplaceAsync(ReadOrigins(body.RootElement), ct)));
    }

    /// <summary><c>{"origins":[…]}</c> with strings only; anything else is a 400 naming the field.</summary>
    private static List<string?> ReadOrigins(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new InputValidationException([new FieldError("$", "Send {\"origins\": [\"https://app.example.com\", …]}.")]);
        }

        var errors = new List<FieldError>();
        List<string?>? origins = null;
        foreach (var property in root.EnumerateObject())
        {
            if (property.Name != "origins")
            {
                errors.Add(new FieldError(property.Name, "Unknown field: the body has 'origins' only."));
            }
            else if (property.Value.ValueKind != JsonValueKind.Array)
            {
                errors.Add(new FieldError("origins", "Must be an array of origins (an empty one allows none)."));
            }
            else
            {
                origins = [];
                var i = 0;
                foreach (var item in property.Value.EnumerateArray())
                {
                    if (item.ValueKind != JsonValueKind.String)
                    {
                        errors.Add(new FieldError($"origins[{i}]", "Must be a string such as \"https://app.example.com\"."));
                    }

                    origins.Add(item.ValueKind == JsonValueKind.String ? item.GetString() : null);
                    i++;
                }
            }
        }

        if (origins is null && errors.Count == 0)
        {
            errors.Add(new FieldError("origins", "Required: the whole list (an empty one allows none)."));
        }

        return errors.Count > 0 ? throw new InputValidationException(errors) : origins!;
    }

    private static OriginsResponse ToResponse(IngestionOriginSettings s) => new(s.Origins, s.ConfiguredOrigins);
}
