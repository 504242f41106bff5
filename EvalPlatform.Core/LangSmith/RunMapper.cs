using System.Text.Json;
using System.Text.Json.Nodes;
using EvalPlatform.Core.Assembly;
using EvalPlatform.Core.Ingestion;
using EvalPlatform.Core.Traces;

namespace EvalPlatform.Core.LangSmith;

/// <summary>
/// Where a run sits: its id, and the trace and parent ids it names or its <c>dotted_order</c> implies.
/// <see cref="TraceId"/> is null when neither says (a single <c>POST /runs</c> or <c>PATCH</c> without them).
/// </summary>
public sealed record RunIdentity(string RunId, string? TraceId, string? ParentId, bool IsRoot);

/// <summary>
/// Maps one LangSmith run (post or patch) onto a <see cref="SpanRecord"/>: pure, no I/O. The mapping
/// table is in docs/api.md ("LangSmith-compatible API"); choices are in ADR 10.
/// </summary>
public static class RunMapper
{
    /// <summary>Run fields mapped to span fields; every other top-level field goes into the span's attributes.</summary>
    /// <summary>The attributes key of an attachment's record: <c>attachment.&lt;name&gt;</c>.</summary>
    public const string AttachmentPrefix = "attachment.";

    private static readonly HashSet<string> MappedFields =
    [
        "id", "trace_id", "parent_run_id", "name", "run_type", "start_time", "end_time", "inputs", "outputs", "error", "events",
        "tags", "extra", "session_name",
    ];

    /// <summary>Reads and cross-checks <c>id</c>, <c>trace_id</c>, <c>parent_run_id</c> and <c>dotted_order</c>.</summary>
    public static RunIdentity? ReadIdentity(RunOperation op, List<FieldError> errors)
    {
        var at = At(op.Path);
        var before = errors.Count;
        var run = op.Run;
        var id = Id(run, "id", at, errors);
        if (op.RunId is not null)
        {
            if (!Guid.TryParse(op.RunId, out var fromRoute))
            {
                errors.Add(new FieldError(at + "id", $"'{op.RunId}' is not a UUID."));
            }
            else if (id is not null && id != fromRoute.ToString("D"))
            {
                errors.Add(new FieldError(at + "id", $"The body's id ({id}) is not the run's id ({op.RunId})."));
            }
            else
            {
                id = fromRoute.ToString("D");
            }
        }
        else if (id is null && errors.Count == before)
        {
            errors.Add(new FieldError(at + "id", "Required: the run's UUID."));
        }

        var traceId = Id(run, "trace_id", at, errors);
        var parentId = Id(run, "parent_run_id", at, errors);
        bool? root = null;
        if (run["dotted_order"] is { } dotted)
        {
            if (ChatMessages.Text(dotted) is not { } text)
            {
                errors.Add(new FieldError(at + "dotted_order", "Must be a string."));
            }
            else if (DottedOrder.Parse(text, out var problem) is not { } segments)
            {
                errors.Add(new FieldError(at + "dotted_order", problem!));
            }
            else
            {
                var (first, last) = (segments[0].RunId, segments[^1].RunId);
                var parent = segments.Count > 1 ? segments[^2].RunId : null;
                if (id is not null && last != id)
                {
                    errors.Add(new FieldError(at + "dotted_order", $"Must end with the run's own id ({id}), not {last}."));
                }

                if (traceId is not null && traceId != first)
                {
                    errors.Add(new FieldError(at + "trace_id", $"Does not match dotted_order, which starts with {first}."));
                }

                if (parentId is not null && parentId != parent)
                {
                    errors.Add(new FieldError(at + "parent_run_id", parent is null
                        ? "dotted_order says this run is a root, but parent_run_id is set."
                        : $"Does not match dotted_order, whose penultimate segment is {parent}."));
                }

                traceId ??= first;
                parentId ??= parent;
                root = segments.Count == 1;
            }
        }

        if (errors.Count > before || id is null)
        {
            return null;
        }

        if (parentId == id)
        {
            errors.Add(new FieldError(at + "parent_run_id", "A run cannot be its own parent."));
            return null;
        }

        // Without a dotted_order: a run with no parent is a root when it is its own trace (or says nothing, for a post).
        root ??= parentId is null && (traceId == id || (traceId is null && !op.IsPatch));
        return new RunIdentity(id, traceId, parentId, root.Value);
    }

    /// <summary>The run's id as sent (route or body), to name a run whose identity could not be read; null when it has none.</summary>
    public static string? RawId(RunOperation op) => (op.RunId ?? ChatMessages.Text(op.Run["id"])) is { } id
        ? id.Length > IngestionLimits.MaxShortText ? id[..IngestionLimits.MaxShortText] : id
        : null;

    /// <summary>The LangSmith <c>run_type</c> as a span kind; null when absent.</summary>
    public static SpanKind? Kind(string? runType) => runType switch
    {
        null => null,
        "llm" => SpanKind.Llm,
        "tool" => SpanKind.Tool,
        "retriever" => SpanKind.Retrieval,
        "chain" or "prompt" or "parser" => SpanKind.Chain,
        _ => SpanKind.Other,
    };

    /// <summary>
    /// The span record for one run. <paramref name="knownKind"/> is the kind stored or posted for this
    /// run when a patch does not repeat its <c>run_type</c> (so an llm patch's outputs still become a message).
    /// </summary>
    public static SpanRecord Map(RunOperation op, RunIdentity ids, string traceKey, SpanKind? knownKind, List<FieldError> errors)
    {
        var run = op.Run;
        var at = At(op.Path);
        var runType = Str(run, "run_type", at, errors, IngestionLimits.MaxShortText);
        var kind = Kind(runType);
        var effectiveKind = kind ?? knownKind;
        var extra = Obj(run, "extra", at, errors);
        var metadata = extra?["metadata"] as JsonObject;
        var inputs = Present(run["inputs"]);
        var outputs = Present(run["outputs"]);
        var attributes = new JsonObject();

        // An update without run_type for a run we have not seen: chat-model outputs still read as a response.
        if (effectiveKind is null && outputs is JsonObject o && (o["generations"] is not null || o["choices"] is not null))
        {
            effectiveKind = SpanKind.Llm;
        }

        string? input = null, output = null;
        switch (effectiveKind)
        {
            case SpanKind.Llm:
                input = inputs is null ? null : LlmInput(inputs, attributes);
                output = outputs is null ? null : LlmOutput(outputs, attributes);
                break;
            case SpanKind.Tool:
                input = inputs is null ? null : Single(inputs, "input");
                output = outputs is null ? null : Single(outputs, "output");
                break;
            default:
                input = inputs?.ToJsonString();
                output = outputs?.ToJsonString();
                break;
        }

        var usage = Usage(outputs, metadata);
        var start = Time(run, "start_time", at, errors);
        var end = Time(run, "end_time", at, errors);
        var events = Present(run["events"]);
        if (events is not null and not JsonArray)
        {
            errors.Add(new FieldError(at + "events", "Must be an array."));
        }

        // Everything not mapped to a field stays on the span; empty values (the JS SDK's "child_runs": [] and
        // "serialized": {} on every run) say nothing.
        foreach (var (key, value) in run)
        {
            if (!MappedFields.Contains(key) && value is not null and not JsonObject { Count: 0 } and not JsonArray { Count: 0 })
            {
                attributes[key] = value.DeepClone();
            }
        }

        if (runType is not null)
        {
            attributes["run_type"] = runType;
        }

        if (extra is not null)
        {
            attributes["extra"] = extra.DeepClone();
        }

        if (Present(run["tags"]) is JsonArray spanTags)
        {
            attributes["tags"] = spanTags.DeepClone();
        }

        if (Present(run["session_name"]) is { } sessionName)
        {
            attributes["session_name"] = sessionName.DeepClone();
        }

        if (usage.Raw is not null)
        {
            attributes["usage_metadata"] = usage.Raw.DeepClone();
        }

        if (events is JsonArray eventList)
        {
            attributes["events_count"] = eventList.Count;
            // Streaming runs send an event per token: the first few are kept, the count says how many there were.
            attributes["events"] = new JsonArray([.. eventList.Take(20).Select(e => e?.DeepClone())]);
        }

        // One top-level key per file ("attachment.<name>"): an update merges attributes by top-level key, so a
        // later patch's attachments add to the earlier ones instead of replacing them.
        foreach (var a in op.Attachments)
        {
            attributes[AttachmentPrefix + a.Name] = new JsonObject
            {
                ["content_type"] = a.ContentType,
                ["size"] = a.Length,
                ["stored"] = a.Content is not null,
                ["data_base64"] = a.Content is null ? null : System.Convert.ToBase64String(a.Content),
            };
        }

        var hints = Hints(run, ids, metadata, events as JsonArray, start, effectiveKind, at, errors);
        FitAttributes(attributes);
        return new SpanRecord
        {
            TraceKey = traceKey,
            SpanKey = ids.RunId,
            ParentKey = ids.ParentId,
            IsUpdate = op.IsPatch,
            RejectIfExists = !op.IsPatch,
            Path = op.Path,
            Kind = kind,
            Name = Str(run, "name", at, errors, IngestionLimits.MaxName),
            StartedAt = start,
            EndedAt = end,
            Input = input,
            Output = output,
            Attributes = attributes.Count == 0 ? null : attributes.ToJsonString(),
            Error = ErrorText(run["error"]),
            Model = Text(metadata?["ls_model_name"]) ?? Text((extra?["invocation_params"] as JsonObject)?["model"])
                ?? Text((extra?["invocation_params"] as JsonObject)?["model_name"])
                ?? (effectiveKind == SpanKind.Llm ? Text((inputs as JsonObject)?["model"]) ?? Text((outputs as JsonObject)?["model"]) : null),
            Provider = Text(metadata?["ls_provider"]),
            PromptTokens = usage.Input,
            CompletionTokens = usage.Output,
            Cost = usage.Cost,
            Trace = hints,
        };
    }

    /// <summary>
    /// LLM inputs as <c>{"messages":[…]}</c>: <c>messages</c> (OpenAI, Anthropic, LangChain, batched <c>[[…]]</c>),
    /// Anthropic's <c>system</c>, LangChain's <c>prompts</c>, or a lone <c>prompt</c>/<c>input</c> string. Other
    /// input keys (model, temperature, tools…) go to the attributes as <c>invocation</c>. Unrecognised inputs are kept as sent.
    /// </summary>
    private static string LlmInput(JsonNode inputs, JsonObject attributes)
    {
        if (inputs is not JsonObject obj)
        {
            return inputs is JsonArray array ? Messages(ChatMessages.ConvertList(array)) : Messages([User(inputs)]);
        }

        var messages = new List<JsonObject>();
        string[] used;
        if (ChatMessages.Text(obj["system"]) is { } system)
        {
            messages.Add(new JsonObject { ["role"] = "system", ["content"] = system });
        }
        else if (obj["system"] is JsonArray systemBlocks)
        {
            messages.AddRange(ChatMessages.Convert(new JsonObject { ["role"] = "system", ["content"] = systemBlocks.DeepClone() }));
        }

        if (obj["messages"] is JsonArray list)
        {
            messages.AddRange(ChatMessages.ConvertList(list));
            used = ["messages", "system"];
        }
        else if (obj["prompts"] is JsonArray prompts)
        {
            messages.AddRange(prompts.Select(User));
            used = ["prompts", "system"];
        }
        else if (obj.Count == 1 && (obj["prompt"] ?? obj["input"]) is JsonValue single)
        {
            messages.Add(User(single));
            used = ["prompt", "input"];
        }
        else
        {
            return obj.ToJsonString();
        }

        var rest = new JsonObject();
        foreach (var (key, value) in obj.Where(p => !used.Contains(p.Key)))
        {
            rest[key] = value?.DeepClone();
        }

        if (rest.Count > 0)
        {
            attributes["invocation"] = rest;
        }

        return Messages(messages);

        static JsonObject User(JsonNode? text) =>
            new() { ["role"] = "user", ["content"] = ChatMessages.Text(text) ?? text?.ToJsonString() };
    }

    private static string Messages(List<JsonObject> messages) =>
        new JsonObject { ["messages"] = new JsonArray([.. messages]) }.ToJsonString();

    /// <summary>Output keys that hold the response message itself or its usage (kept elsewhere): never part of <c>response</c>.</summary>
    private static readonly HashSet<string> MessageOutputKeys =
        ["choices", "generations", "messages", "message", "role", "content", "tool_calls", "output", "usage", "usage_metadata"];

    /// <summary>
    /// The assistant message of an LLM run's outputs: OpenAI <c>choices[0].message</c>, LangChain
    /// <c>generations[0][0]</c> (its message, or its text), <c>messages</c> (the last), <c>message</c>,
    /// the outputs as a message (OpenAI, Anthropic, LangChain), or <c>output</c>/<c>content</c> text;
    /// anything else is kept as sent. When a message is taken out of a larger object, the rest of it
    /// (the response's <c>id</c>, <c>model</c>, <c>finish_reason</c>, <c>system_fingerprint</c>…) goes to the
    /// attributes as <c>response</c>, as the inputs' other keys go to <c>invocation</c>.
    /// </summary>
    private static string LlmOutput(JsonNode outputs, JsonObject attributes)
    {
        var output = LlmMessage(outputs);
        if (outputs is JsonObject o && output != o.ToJsonString())
        {
            var rest = new JsonObject();
            foreach (var (key, value) in o.Where(p => !MessageOutputKeys.Contains(p.Key) && Present(p.Value) is not null))
            {
                rest[key] = value!.DeepClone();
            }

            if (o["choices"] is JsonArray { Count: > 0 } choices && (choices[0] as JsonObject)?["finish_reason"] is { } finish && Present(finish) is not null)
            {
                rest["finish_reason"] ??= finish.DeepClone();
            }

            if (rest.Count > 0)
            {
                attributes["response"] = rest;
            }
        }

        return output;
    }

    private static string LlmMessage(JsonNode outputs)
    {
        if (outputs is JsonValue v && v.TryGetValue<string>(out var text))
        {
            return Assistant(text).ToJsonString();
        }

        if (outputs is not JsonObject o)
        {
            return outputs.ToJsonString();
        }

        if (o["choices"] is JsonArray { Count: > 0 } choices && (choices[0] as JsonObject)?["message"] is JsonObject choice)
        {
            return Last(choice);
        }

        if (o["generations"] is JsonArray { Count: > 0 } generations)
        {
            var first = generations[0] is JsonArray { Count: > 0 } inner ? inner[0] : generations[0];
            if (first is JsonObject g)
            {
                if (g["message"] is JsonObject gm)
                {
                    return Last(gm);
                }

                if (ChatMessages.Text(g["text"]) is { } gt)
                {
                    return Assistant(gt).ToJsonString();
                }
            }
        }

        if (o["messages"] is JsonArray { Count: > 0 } messages)
        {
            return ChatMessages.ConvertList(messages) is { Count: > 0 } converted ? converted[^1].ToJsonString() : o.ToJsonString();
        }

        if (o["message"] is JsonObject message)
        {
            return Last(message);
        }

        if (o["role"] is not null || o["lc"] is not null || (o["type"] is not null && o["content"] is not null))
        {
            return Last(o);
        }

        if ((ChatMessages.Text(o["output"]) ?? ChatMessages.Text(o["content"])) is { } plain)
        {
            return Assistant(plain).ToJsonString();
        }

        return o.ToJsonString();

        static string Last(JsonObject m) => ChatMessages.Convert(m) is { Count: > 0 } c ? c[^1].ToJsonString() : m.ToJsonString();

        static JsonObject Assistant(string content) => new() { ["role"] = "assistant", ["content"] = content };
    }

    /// <summary>A tool's <c>{"input": x}</c> (LangChain tools) is x; anything else is the arguments as sent.</summary>
    private static string Single(JsonNode node, string key) =>
        node is JsonObject { Count: 1 } o && o.ContainsKey(key) ? o[key]?.ToJsonString() ?? "null" : node.ToJsonString();

    private sealed record UsageFigures(int? Input, int? Output, decimal? Cost, JsonObject? Raw);

    /// <summary>
    /// Tokens and cost: <c>usage_metadata</c> in the outputs or in <c>extra.metadata</c>, else the LangChain
    /// message's <c>usage_metadata</c>, <c>llm_output.token_usage</c>, or an OpenAI/Anthropic <c>usage</c> object.
    /// </summary>
    private static UsageFigures Usage(JsonNode? outputs, JsonObject? metadata)
    {
        var o = outputs as JsonObject;
        var generation = o?["generations"] is JsonArray { Count: > 0 } gens ? (gens[0] is JsonArray { Count: > 0 } inner ? inner[0] : gens[0]) as JsonObject : null;
        var generationMessage = generation?["message"] as JsonObject;
        var usage = o?["usage_metadata"] as JsonObject
            ?? metadata?["usage_metadata"] as JsonObject
            ?? (generationMessage?["kwargs"] as JsonObject ?? generationMessage)?["usage_metadata"] as JsonObject
            ?? (o?["llm_output"] as JsonObject)?["token_usage"] as JsonObject
            ?? o?["usage"] as JsonObject;
        if (usage is null)
        {
            return new UsageFigures(null, null, null, null);
        }

        var input = Int(usage["input_tokens"]) ?? Int(usage["prompt_tokens"]);
        var output = Int(usage["output_tokens"]) ?? Int(usage["completion_tokens"]);
        var (inputCost, outputCost) = (Dec(usage["input_cost"]), Dec(usage["output_cost"]));
        var cost = Dec(usage["total_cost"]) ?? (inputCost is null && outputCost is null ? null : (inputCost ?? 0) + (outputCost ?? 0));
        return new UsageFigures(input, output, cost, usage);
    }

    private static TraceHints? Hints(JsonObject run, RunIdentity ids, JsonObject? metadata, JsonArray? events,
        DateTimeOffset? start, SpanKind? kind, string at, List<FieldError> errors)
    {
        var project = Text(run["session_name"]);
        var tags = new List<string>();
        if (ids.IsRoot)
        {
            // Only the root run's tags become the trace's (LangChain tags every step "seq:step:N"); a child's stay on its span.
            if (Present(run["tags"]) is { } t)
            {
                if (t is JsonArray tagArray && tagArray.All(x => Text(x) is not null))
                {
                    tags.AddRange(tagArray.Select(x => Text(x)!));
                }
                else
                {
                    errors.Add(new FieldError(at + "tags", "Must be an array of strings."));
                }
            }
        }

        if (project is not null)
        {
            tags.Add("project:" + project);
        }

        string? traceMetadata = null;
        if (ids.IsRoot && metadata is not null)
        {
            var copy = new JsonObject();
            foreach (var (key, value) in metadata.Where(p => p.Key != "usage_metadata"))
            {
                copy[key] = value?.DeepClone();
            }

            if (project is not null)
            {
                copy["langsmith_project"] = project;
            }

            var json = copy.ToJsonString();
            // The trace's metadata has a size limit; what does not fit is still on the root span (extra.metadata).
            traceMetadata = json.Length <= TraceAssembler.MaxAttributesLength / 4 ? json : null;
        }
        else if (ids.IsRoot && project is not null)
        {
            traceMetadata = new JsonObject { ["langsmith_project"] = project }.ToJsonString();
        }

        double? ttft = null;
        if (kind == SpanKind.Llm && events is not null)
        {
            var times = events.OfType<JsonObject>().Select(e => (Name: Text(e["name"]), Time: Timestamps.Parse(e["time"]))).ToList();
            var began = start ?? times.FirstOrDefault(e => e.Name == "start").Time;
            var token = times.FirstOrDefault(e => e.Name == "new_token").Time;
            if (began is { } b && token is { } tk && tk >= b)
            {
                ttft = (tk - b).TotalMilliseconds;
            }
        }

        var sessionId = Text(metadata?["thread_id"]) ?? Text(metadata?["session_id"]) ?? Text(metadata?["conversation_id"]);
        var userId = Text(metadata?["user_id"]);
        var release = ids.IsRoot ? Text(metadata?["revision_id"]) : null;
        return tags.Count == 0 && traceMetadata is null && ttft is null && sessionId is null && userId is null && release is null
            ? null
            : new TraceHints
            {
                Tags = tags.Select(t => t.Length > IngestionLimits.MaxTagLength ? t[..IngestionLimits.MaxTagLength] : t).ToList(),
                Metadata = traceMetadata,
                TimeToFirstTokenMs = ttft,
                SessionId = sessionId,
                UserId = userId,
                Release = release,
            };
    }

    /// <summary>
    /// Keeps the attributes object under the assembler's limit: the largest entries are replaced by a
    /// note of their size (LangChain's <c>serialized</c> objects can be large), so a run is never refused for them.
    /// </summary>
    private static void FitAttributes(JsonObject attributes)
    {
        const int Room = TraceAssembler.MaxAttributesLength - 1024;
        var sizes = attributes.ToDictionary(p => p.Key, p => p.Value?.ToJsonString().Length ?? 4);
        var total = sizes.Values.Sum() + 8 * sizes.Count;
        // Attachments first lose their bytes (never their record: name, type, size).
        foreach (var (key, size) in sizes.Where(p => p.Key.StartsWith(AttachmentPrefix, StringComparison.Ordinal)).OrderByDescending(p => p.Value).ToList())
        {
            if (total <= Room)
            {
                return;
            }

            if (attributes[key] is JsonObject file && file["data_base64"] is not null)
            {
                file["data_base64"] = null;
                file["stored"] = false;
                var smaller = file.ToJsonString().Length;
                total -= size - smaller;
                sizes[key] = smaller;
            }
        }

        foreach (var (key, size) in sizes.Where(p => !p.Key.StartsWith(AttachmentPrefix, StringComparison.Ordinal)).OrderByDescending(p => p.Value))
        {
            if (total <= Room)
            {
                return;
            }

            attributes[key] = new JsonObject { ["omitted"] = true, ["json_chars"] = size };
            total -= size - 40;
        }
    }

    private static string? ErrorText(JsonNode? error) => Present(error) switch
    {
        null => null,
        JsonValue v when v.TryGetValue<string>(out var s) => s.Length > IngestionLimits.MaxErrorText ? s[..IngestionLimits.MaxErrorText] : s,
        var other => other.ToJsonString() is var json && json.Length > IngestionLimits.MaxErrorText ? json[..IngestionLimits.MaxErrorText] : json,
    };

    private static JsonNode? Present(JsonNode? node) =>
        node is null || (node is JsonValue v && v.GetValueKind() == JsonValueKind.Null) ? null : node;

    private static string At(string path) => path.Length == 0 ? "" : path + ".";

    private static string? Text(JsonNode? node) => ChatMessages.Text(node);

    private static string? Id(JsonObject run, string field, string at, List<FieldError> errors)
    {
        var node = Present(run[field]);
        if (node is null)
        {
            return null;
        }

        if (Text(node) is { } text && Guid.TryParse(text, out var id))
        {
            return id.ToString("D");
        }

        errors.Add(new FieldError(at + field, "Must be a UUID."));
        return null;
    }

    private static string? Str(JsonObject run, string field, string at, List<FieldError> errors, int max)
    {
        var node = Present(run[field]);
        if (node is null)
        {
            return null;
        }

        if (Text(node) is not { } text)
        {
            errors.Add(new FieldError(at + field, "Must be a string."));
            return null;
        }

        return text.Length > max ? text[..max] : text;
    }

    private static JsonObject? Obj(JsonObject run, string field, string at, List<FieldError> errors)
    {
        var node = Present(run[field]);
        if (node is null or JsonObject)
        {
            return node as JsonObject;
        }

        errors.Add(new FieldError(at + field, "Must be an object."));
        return null;
    }

    private static DateTimeOffset? Time(JsonObject run, string field, string at, List<FieldError> errors)
    {
        var node = Present(run[field]);
        if (node is null)
        {
            return null;
        }

        if (Timestamps.Parse(node) is { } time)
        {
            return time;
        }

        errors.Add(new FieldError(at + field, Timestamps.Expected));
        return null;
    }

    private static int? Int(JsonNode? node) =>
        node is JsonValue v && v.GetValueKind() == JsonValueKind.Number && v.TryGetValue<double>(out var d) && double.IsFinite(d) && d is >= int.MinValue and <= int.MaxValue
            ? (int)d
            : null;

    private static decimal? Dec(JsonNode? node) =>
        node is JsonValue v && v.GetValueKind() == JsonValueKind.Number && v.TryGetValue<double>(out var d) && double.IsFinite(d) && Math.Abs(d) < 1e15
            ? (decimal)d
            : null;
}
