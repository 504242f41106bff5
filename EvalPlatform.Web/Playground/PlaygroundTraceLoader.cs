using System.Globalization;
using System.Text.Json;
using EvalPlatform.Core.Common;
using EvalPlatform.Core.Playground;
using EvalPlatform.Core.Providers;
using EvalPlatform.Core.Traces;
using EvalPlatform.Web.Traces;

namespace EvalPlatform.Web.Playground;

/// <summary>
/// A trace opened in the playground: its system prompt and messages (the answer left out), a configuration like the one
/// that made it (a connection of its provider's kind, its model, temperature and max tokens from its metadata), and the
/// values its metadata and conversation carry, for the prompt's <c>{{variables}}</c>.
/// </summary>
public sealed record PlaygroundStart(
    Guid TraceId, string? System, IReadOnlyList<PlaygroundMessage> Messages, Guid? ConnectionId, string? Model, double? Temperature, int? MaxTokens,
    IReadOnlyDictionary<string, string> Values, string? Answer);

/// <summary>
/// Reads a trace of the current team for "Open in playground" (another team's trace is not found): the conversation as the
/// Chat tab reads it (<see cref="ChatTranscript"/>), the parameters as the proxy and the playground record them
/// (<c>metadata.parameters</c>), and candidate variable values: <c>metadata.variables</c>, then <c>metadata.inputs</c>, then
/// the metadata's other plain fields, then <c>input</c> (the last user message) and <c>output</c> (the answer).
/// </summary>
public sealed class PlaygroundTraceLoader(TraceQueries queries, PlaygroundService playground)
{
    public async Task<PlaygroundStart> LoadAsync(Guid traceId, CancellationToken ct = default)
    {
        var connections = await playground.ConnectionsAsync(ct);
        var detail = await queries.GetAsync(traceId, ct);
        var trace = detail.Trace;
        var transcript = ChatTranscript.From(detail.Spans);
        var system = string.Join("\n\n", transcript.Where(m => m.Role is "system" or "developer" && !string.IsNullOrEmpty(m.Text)).Select(m => m.Text));
        var messages = transcript
            .Where(m => !m.IsResponse && m.Role is "user" or "assistant" && !string.IsNullOrWhiteSpace(m.Text))
            .Select(m => new PlaygroundMessage(m.Role, m.Text!))
            .ToList();
        if (messages.Count == 0 && !string.IsNullOrWhiteSpace(trace.InputPreview))
        {
            messages.Add(new PlaygroundMessage("user", trace.InputPreview));
        }

        var answer = transcript.LastOrDefault(m => m.IsResponse)?.Text ?? trace.OutputPreview;
        var metadata = StoredJson.TryParse(trace.Metadata) is { ValueKind: JsonValueKind.Object } m ? m : default;
        var parameters = Property(metadata, "parameters");
        var temperature = Number(parameters, "temperature") ?? Number(metadata, "temperature");
        var maxTokens = Number(parameters, "max_tokens") ?? Number(parameters, "max_completion_tokens") ?? Number(parameters, "max_output_tokens") ?? Number(metadata, "max_tokens");

        // The connection that made it when the playground did, else the team's first of the trace's provider kind.
        Guid? connection = Guid.TryParse(Text(Property(metadata, "playground"), "connection_id"), out var used) && connections.Any(c => c.Id == used) ? used : null;
        if (connection is null && ProviderKinds.TryParse(trace.Provider, out var kind))
        {
            connection = connections.FirstOrDefault(c => ProviderKinds.Serves(c.Kind, kind))?.Id;
        }

        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        AddAll(values, Property(metadata, "variables"));
        AddAll(values, Property(metadata, "inputs"));
        AddAll(values, metadata);
        if (messages.LastOrDefault(x => x.Role == "user") is { } lastUser)
        {
            values.TryAdd("input", lastUser.Content);
        }

        if (answer is not null)
        {
            values.TryAdd("output", answer);
        }

        return new PlaygroundStart(trace.Id, system.Length == 0 ? null : system, messages, connection, trace.Model, temperature,
            maxTokens is { } t && t >= 1 && t <= PlaygroundService.MaxOutputTokens ? (int)t : null, values, answer);
    }

    private static JsonElement Property(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) ? v : default;

    private static string? Text(JsonElement e, string name) =>
        Property(e, name) is { ValueKind: JsonValueKind.String } v ? v.GetString() : null;

    private static double? Number(JsonElement e, string name) =>
        Property(e, name) is { ValueKind: JsonValueKind.Number } v ? v.GetDouble() : null;

    /// <summary>The object's plain fields (text, numbers, booleans) as values; earlier sources win.</summary>
    private static void AddAll(Dictionary<string, string> values, JsonElement source)
    {
        if (source.ValueKind != JsonValueKind.Object)
        {
            return;
        }

        foreach (var p in source.EnumerateObject())
        {
            var value = p.Value.ValueKind switch
            {
                JsonValueKind.String => p.Value.GetString(),
                JsonValueKind.Number => p.Value.GetRawText(),
                JsonValueKind.True or JsonValueKind.False => p.Value.GetBoolean().ToString(CultureInfo.InvariantCulture).ToLowerInvariant(),
                _ => null,
            };
            if (value is not null)
            {
                values.TryAdd(p.Name, value);
            }
        }
    }
}
