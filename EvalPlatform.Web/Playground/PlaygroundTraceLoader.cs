using System.Text.Json;
using EvalPlatform.Core.Playground;
using EvalPlatform.Core.Providers;
using EvalPlatform.Core.Traces;

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
/// Reads a trace of the current team for "Open in playground" (another team's trace is not found): the conversation and
/// the variable values as <see cref="PlaygroundTraceValues"/> reads them (the playground batch fills its prompts the same
/// way), and the parameters as the proxy and the playground record them (<c>metadata.parameters</c>).
/// </summary>
public sealed class PlaygroundTraceLoader(TraceQueries queries, PlaygroundService playground)
{
    public async Task<PlaygroundStart> LoadAsync(Guid traceId, CancellationToken ct = default)
    {
        var connections = await playground.ConnectionsAsync(ct);
        var detail = await queries.GetAsync(traceId, ct);
        var trace = detail.Trace;
        var read = PlaygroundTraceValues.Read(trace, detail.Spans);
        var metadata = read.Metadata;
        var parameters = PlaygroundTraceValues.Property(metadata, "parameters");
        var temperature = Number(parameters, "temperature") ?? Number(metadata, "temperature");
        var maxTokens = Number(parameters, "max_tokens") ?? Number(parameters, "max_completion_tokens") ?? Number(parameters, "max_output_tokens") ?? Number(metadata, "max_tokens");

        // The connection that made it when the playground did, else the team's first of the trace's provider kind.
        Guid? connection = Guid.TryParse(Text(PlaygroundTraceValues.Property(metadata, "playground"), "connection_id"), out var used) && connections.Any(c => c.Id == used) ? used : null;
        if (connection is null && ProviderKinds.TryParse(trace.Provider, out var kind))
        {
            connection = connections.FirstOrDefault(c => ProviderKinds.Serves(c.Kind, kind))?.Id;
        }

        return new PlaygroundStart(trace.Id, read.System, read.Messages, connection, trace.Model, temperature,
            maxTokens is { } t && t >= 1 && t <= PlaygroundService.MaxOutputTokens ? (int)t : null, read.Values, read.Answer);
    }

    private static string? Text(JsonElement e, string name) =>
        PlaygroundTraceValues.Property(e, name) is { ValueKind: JsonValueKind.String } v ? v.GetString() : null;

    private static double? Number(JsonElement e, string name) =>
        PlaygroundTraceValues.Property(e, name) is { ValueKind: JsonValueKind.Number } v ? v.GetDouble() : null;
}
