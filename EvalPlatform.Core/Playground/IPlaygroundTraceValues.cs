using EvalPlatform.Core.Traces;

namespace EvalPlatform.Core.Playground;

/// <summary>
/// The values a trace offers a prompt's <c>{{variables}}</c>, exactly as "Open in playground" fills them (metadata
/// variables, inputs, plain metadata fields, then <c>input</c> and <c>output</c> from the conversation). Implemented in Web,
/// where the conversation is read as the Chat tab reads it; the playground batch fills each trace's prompt with it.
/// </summary>
public interface IPlaygroundTraceValues
{
    IReadOnlyDictionary<string, string> From(Trace trace, IReadOnlyList<Span> spans);
}
