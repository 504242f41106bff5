using System.Text;
using System.Text.Json;

namespace EvalPlatform.Core.Providers.Proxy;

/// <summary>OpenAI's chat completions answers: the JSON body, and the stream of <c>chat.completion.chunk</c> events.</summary>
public static class OpenAiChatWire
{
    /// <summary>A non-streamed <c>chat.completion</c> body; the first choice is the answer.</summary>
    public static ProxyAnswer ReadAnswer(JsonElement body)
    {
        var answer = new ProxyAnswer { Id = ProxyWire.Str(body, "id"), Model = ProxyWire.Str(body, "model"), Completed = true };
        if (ProxyWire.Items(body, "choices").FirstOrDefault() is { ValueKind: JsonValueKind.Object } choice)
        {
            answer.FinishReason = ProxyWire.Str(choice, "finish_reason");
            var message = ProxyWire.Prop(choice, "message");
            answer.Text.Append(ContentText(ProxyWire.Prop(message, "content")) ?? ProxyWire.Str(message, "refusal"));
            foreach (var call in ProxyWire.Items(message, "tool_calls"))
            {
                var fn = ProxyWire.Prop(call, "function");
                answer.ToolCalls.Add(new ProxyToolCall(ProxyWire.Str(call, "id"), ProxyWire.Str(fn, "name") ?? "", ProxyWire.Str(fn, "arguments") ?? ""));
            }
        }

        ReadUsage(ProxyWire.Prop(body, "usage"), answer);
        return answer;
    }

    internal static void ReadUsage(JsonElement usage, ProxyAnswer answer)
    {
        if (usage.ValueKind != JsonValueKind.Object)
        {
            return;
        }

        answer.InputTokens = ProxyWire.WholeNumber(usage, "prompt_tokens") ?? answer.InputTokens;
        answer.OutputTokens = ProxyWire.WholeNumber(usage, "completion_tokens") ?? answer.OutputTokens;
        answer.CachedInputTokens = ProxyWire.WholeNumber(ProxyWire.Prop(usage, "prompt_tokens_details"), "cached_tokens") ?? answer.CachedInputTokens;
    }

    private static string? ContentText(JsonElement content) => content.ValueKind switch
    {
        JsonValueKind.String => content.GetString(),
        JsonValueKind.Array => string.Concat(content.EnumerateArray().Select(p => ProxyWire.Str(p, "text"))),
        _ => null,
    };

    /// <summary>
    /// The chunks of a stream: <c>delta.content</c> appended, <c>delta.tool_calls</c> merged by <c>index</c> (the id and name
    /// come first, the arguments in fragments), usage from the last chunk (<c>stream_options.include_usage</c>), <c>[DONE]</c>
    /// completes it.
    /// </summary>
    public sealed class StreamAssembler : IStreamAssembler
    {
        private readonly SortedDictionary<int, (string? Id, string Name, StringBuilder Arguments)> _calls = [];

        private readonly ProxyAnswer _answer = new();

        /// <summary>The answer so far (tool calls assembled on read: arguments can arrive in hundreds of fragments).</summary>
        public ProxyAnswer Answer
        {
            get
            {
                _answer.ToolCalls.Clear();
                _answer.ToolCalls.AddRange(_calls.Values.Select(c => new ProxyToolCall(c.Id, c.Name, c.Arguments.ToString())));
                return _answer;
            }
        }

        public bool Add(SseEvent e)
        {
            if (e.Data == "[DONE]")
            {
                _answer.Completed = true;
                return false;
            }

            if (ProxyWire.TryParse(e.Data) is not { } chunk)
            {
                return false;
            }

            if (ProxyWire.Prop(chunk, "error") is { ValueKind: JsonValueKind.Object } error)
            {
                _answer.Error = ProxyWire.Str(error, "message") ?? error.GetRawText();
                return false;
            }

            _answer.Id ??= ProxyWire.Str(chunk, "id");
            _answer.Model ??= ProxyWire.Str(chunk, "model");
            ReadUsage(ProxyWire.Prop(chunk, "usage"), _answer);
            var content = false;
            foreach (var choice in ProxyWire.Items(chunk, "choices"))
            {
                if ((ProxyWire.WholeNumber(choice, "index") ?? 0) != 0)
                {
                    continue;
                }

                _answer.FinishReason = ProxyWire.Str(choice, "finish_reason") ?? _answer.FinishReason;
                var delta = ProxyWire.Prop(choice, "delta");
                if (ProxyWire.Str(delta, "content") is { Length: > 0 } text)
                {
                    _answer.Text.Append(text);
                    content = true;
                }

                foreach (var call in ProxyWire.Items(delta, "tool_calls"))
                {
                    var index = ProxyWire.WholeNumber(call, "index") ?? 0;
                    var fn = ProxyWire.Prop(call, "function");
                    var current = _calls.TryGetValue(index, out var c) ? c : (null, "", new StringBuilder());
                    current.Id ??= ProxyWire.Str(call, "id");
                    if (ProxyWire.Str(fn, "name") is { Length: > 0 } name)
                    {
                        current.Name = name;
                    }

                    current.Arguments.Append(ProxyWire.Str(fn, "arguments"));
                    _calls[index] = current;
                    content = true;
                }
            }

            return content;
        }
    }
}
