using System.Text.Json;
using System.Text.Json.Serialization;

namespace EvalPlatform.Client;

/// <summary>The platform's JSON: snake_case, nulls left out.</summary>
internal static class EvalJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };
}
