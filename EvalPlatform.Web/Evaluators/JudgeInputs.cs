using System.Globalization;
using System.Text;
using EvalPlatform.Core.Evaluators;
using EvalPlatform.Core.Traces;
using EvalPlatform.Web.Traces;

namespace EvalPlatform.Web.Evaluators;

/// <summary>
/// A trace as the rubric's variables, read as the trace view reads it: input = the Chat tab's messages before the answer,
/// output = the AI response (or the trace's output preview), functions = the Functions tab's tool calls with their results,
/// metadata = the Metadata tab's fields and free metadata JSON.
/// </summary>
public sealed class JudgeInputs : IJudgeInputs
{
    public JudgeVariables From(Trace trace, IReadOnlyList<Span> spans)
    {
        ArgumentNullException.ThrowIfNull(trace);
        ArgumentNullException.ThrowIfNull(spans);
        var messages = ChatTranscript.From(spans);
        var input = new StringBuilder();
        var output = new StringBuilder();
        foreach (var m in messages)
        {
            var target = m.IsResponse ? output : input;
            if (!m.IsResponse)
            {
                target.Append(m.Role).Append(": ");
            }

            target.AppendLine(m.Text);
            foreach (var call in m.ToolCalls)
            {
                target.Append("[tool call ").Append(call.Name).Append(' ').Append(call.Arguments).AppendLine("]");
            }
        }

        var functions = new StringBuilder();
        foreach (var tool in spans.Where(s => s.Kind == SpanKind.Tool).OrderBy(s => s.StartedAt).ThenBy(s => s.Position))
        {
            functions.Append(tool.Name).Append('(').Append(ChatTranscript.Pretty(tool.Input)).Append(") -> ")
                .AppendLine(tool.Error is { } error ? $"error: {error}" : ChatTranscript.Pretty(tool.Output));
        }

        var metadata = new StringBuilder();
        void Field(string name, object? value)
        {
            if (value is not null && !(value is string s && s.Length == 0))
            {
                metadata.Append(name).Append(": ").AppendLine(Convert.ToString(value, CultureInfo.InvariantCulture));
            }
        }

        Field("name", trace.Name);
        Field("model", trace.Model);
        Field("provider", trace.Provider);
        Field("environment", trace.Environment);
        Field("release", trace.Release);
        Field("session", trace.SessionId);
        Field("user", trace.UserId);
        Field("tags", trace.Tags.Count > 0 ? string.Join(", ", trace.Tags) : null);
        Field("latency_ms", trace.LatencyMs);
        Field("total_tokens", trace.TotalTokens);
        Field("cost_usd", trace.Cost);
        Field("error", trace.Error);
        Field("metadata", trace.Metadata is null ? null : ChatTranscript.Pretty(trace.Metadata));

        return new JudgeVariables(
            input.Length > 0 ? input.ToString().TrimEnd() : trace.InputPreview ?? "",
            output.Length > 0 ? output.ToString().TrimEnd() : trace.OutputPreview ?? "",
            functions.Length > 0 ? functions.ToString().TrimEnd() : "(no function calls)",
            metadata.ToString().TrimEnd());
    }
}
