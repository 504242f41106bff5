using System.Text.Json;
using System.Text.Json.Serialization;
using EvalPlatform.Core.Traces;

namespace EvalPlatform.Core.Queues;

/// <summary>
/// A queue's saved filter: the trace list's own <see cref="TraceFilter"/>, stored as JSON with the
/// list's parameter names (snake_case), so a queue's filter means exactly what the list's does.
/// </summary>
public static class QueueFilterJson
{
    private static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    public static string Write(TraceFilter filter) => JsonSerializer.Serialize(filter, Options);

    public static TraceFilter Read(string? json) =>
        string.IsNullOrWhiteSpace(json) ? new TraceFilter() : JsonSerializer.Deserialize<TraceFilter>(json, Options) ?? new TraceFilter();
}
