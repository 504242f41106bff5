using System.Globalization;
using System.Text.Json;
using EvalPlatform.Core.Common;
using EvalPlatform.Core.Playground;
using EvalPlatform.Core.Traces;
using EvalPlatform.Web.Traces;

namespace EvalPlatform.Web.Playground;

/// <summary>A trace read for the playground: its system prompt, messages (the answer left out), answer, metadata and values.</summary>
public sealed record PlaygroundTraceRead(
    string? System, IReadOnlyList<PlaygroundMessage> Messages, string? Answer, JsonElement Metadata, IReadOnlyDictionary<string, string> Values);

/// <summary>
/// The one reading of a trace for the playground, shared by "Open in playground" (<see cref="PlaygroundTraceLoader"/>) and
/// the playground batch (<see cref="IPlaygroundTraceValues"/>): the conversation as the Chat tab reads it
/// (<see cref="ChatTranscript"/>), and candidate variable values: <c>metadata.variables</c>, then <c>metadata.inputs</c>, then
/// the metadata's other plain fields, then <c>input</c> (the last user message) and <c>output</c> (the answer).
/// </summary>
public sealed class PlaygroundTraceValues : IPlaygroundTraceValues
{
    public IReadOnlyDictionary<string, string> From(Trace trace, IReadOnlyList<Span> spans) => Read(trace, spans).Values;

    public static PlaygroundTraceRead Read(Trace trace, IReadOnlyList<Span> spans)
    {
        ArgumentNullException.ThrowIfNull(trace);
        ArgumentNullException.ThrowIfNull(spans);
        var transcript = ChatTranscript.From(spans);
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

        return new PlaygroundTraceRead(system.Length == 0 ? null : system, messages, answer, metadata, values);
    }

    public static JsonElement Property(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) ? v : default;

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
