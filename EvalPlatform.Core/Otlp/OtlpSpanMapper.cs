using System.Globalization;
using System.Text.Json.Nodes;
using EvalPlatform.Core.Assembly;
using EvalPlatform.Core.Ingestion;
using EvalPlatform.Core.Traces;

namespace EvalPlatform.Core.Otlp;

/// <summary>What became of an export's spans before storage: records to assemble, and spans refused (bad ids) by path.</summary>
public sealed record OtlpMapping(IReadOnlyList<SpanRecord> Records, IReadOnlyList<FieldError> Rejected);

/// <summary>
/// Maps OTLP spans onto <see cref="SpanRecord"/>s: the OTel GenAI conventions of every generation,
/// OpenInference, OpenLLMetry (Traceloop) and Langfuse's <c>langfuse.*</c> attributes. Pure: no I/O.
/// Attributes it maps leave the attributes object; every other attribute stays there, typed, with the
/// scope, the span kind, unmapped events and links. The precedence between families is ADR 9's table.
/// </summary>
public static class OtlpSpanMapper
{
    private static readonly string[] ModelKeys =
        ["langfuse.observation.model.name", "gen_ai.response.model", "gen_ai.request.model", "llm.response.model", "llm.model_name", "llm.response.model_name", "llm.request.model_name"];

    private static readonly string[] ProviderKeys = ["gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system"];

    private static readonly string[] MessageEvents = ["gen_ai.system.message", "gen_ai.user.message", "gen_ai.assistant.message", "gen_ai.tool.message"];

    private static readonly string[] CostKeys = ["gen_ai.usage.cost", "llm.cost.total"];

    private static readonly string[] TagKeys = ["langfuse.trace.tags", "tag.tags"];

    private static readonly string[] ExceptionKeys = ["exception.type", "exception.message"];

    private static readonly string[] SpanKindNames = ["unspecified", "internal", "server", "client", "producer", "consumer"];

    private const string OperationDetailsEvent = "gen_ai.client.inference.operation.details";

    /// <summary>
    /// Maps every span of the export. <paramref name="projectName"/> (the <c>x-project-name</c> header)
    /// wins over the resource's <c>openinference.project.name</c>; either becomes the tag <c>project:&lt;name&gt;</c>.
    /// </summary>
    public static OtlpMapping Map(OtlpExportRequest request, string? projectName = null)
    {
        var records = new List<SpanRecord>(request.SpanCount);
        var rejected = new List<FieldError>();
        for (var r = 0; r < request.ResourceSpans.Count; r++)
        {
            var resourceSpans = request.ResourceSpans[r];
            var resource = ResourceFacts.From(resourceSpans.ResourceAttributes, projectName);
            var hintedTraces = new HashSet<string>(StringComparer.Ordinal);
            for (var s = 0; s < resourceSpans.ScopeSpans.Count; s++)
            {
                var scope = resourceSpans.ScopeSpans[s];
                for (var i = 0; i < scope.Spans.Count; i++)
                {
                    var span = scope.Spans[i];
                    var path = $"resourceSpans[{r}].scopeSpans[{s}].spans[{i}]";
                    if (IdProblem(span, path) is { } problem)
                    {
                        rejected.Add(problem);
                        continue;
                    }

                    // Resource metadata once per trace and resource in this export, not on every span.
                    var firstOfTrace = hintedTraces.Add(span.TraceId.Hex!);
                    records.Add(MapSpan(span, scope, resource, path, firstOfTrace));
                }
            }
        }

        return new OtlpMapping(records, rejected);
    }

    private static FieldError? IdProblem(OtlpSpan span, string path)
    {
        if (span.TraceId.Hex is null)
        {
            return new FieldError(path + ".traceId", span.TraceId.Problem ?? "Required.");
        }

        if (span.SpanId.Hex is null)
        {
            return new FieldError(path + ".spanId", span.SpanId.Problem ?? "Required.");
        }

        return span.ParentSpanId.Problem is { } parent ? new FieldError(path + ".parentSpanId", parent) : null;
    }

    /// <summary>Maps one span (its ids already checked).</summary>
    public static SpanRecord MapSpan(OtlpSpan span, OtlpScopeSpans scope, ResourceFacts resource, string path, bool withResourceMetadata = true)
    {
        var bag = new OtlpAttributeBag(span.Attributes);
        var usedEvents = new HashSet<OtlpEvent>();
        foreach (var ev in span.Events.Where(e => e.Name == OperationDetailsEvent))
        {
            // The newest convention moves content onto this event; read it as if it were on the span.
            bag.AddMissing(ev.Attributes);
            usedEvents.Add(ev);
        }

        var kind = Kind(bag);
        var model = Model(bag);
        var provider = FirstText(bag, ProviderKeys);
        var (prompt, completion) = Tokens(bag);
        var cost = Cost(bag);
        var name = span.Name;
        JsonNode? input;
        JsonNode? output;
        if (kind == SpanKind.Llm)
        {
            (input, output) = LlmInputOutput(bag, span, usedEvents);
        }
        else if (kind == SpanKind.Tool)
        {
            input = Payload(bag, "gen_ai.tool.call.arguments", "langfuse.observation.input", "input.value", "traceloop.entity.input");
            output = Payload(bag, "gen_ai.tool.call.result", "langfuse.observation.output", "output.value", "traceloop.entity.output");
            if ((bag.TakeText("gen_ai.tool.name") ?? bag.TakeText("tool.name") ?? bag.TakeText("traceloop.entity.name")) is { } tool && tool != span.Name)
            {
                name = tool;
            }
        }
        else
        {
            input = Payload(bag, "langfuse.observation.input", "input.value", "traceloop.entity.input");
            output = Payload(bag, "langfuse.observation.output", "output.value", "traceloop.entity.output");
        }

        input ??= Payload(bag, "langfuse.trace.input");
        output ??= Payload(bag, "langfuse.trace.output");
        var error = Error(bag, span);
        var hints = Hints(bag, span, resource, withResourceMetadata);

        var attributes = OtlpValues.ToObject(bag.Unused(), OtlpValues.MaxAttributeValueLength);
        if (name != span.Name && !string.IsNullOrEmpty(span.Name))
        {
            attributes["otel.span.name"] = span.Name;
        }

        if (span.Kind is > 0 and <= 5)
        {
            attributes["otel.span.kind"] = SpanKindNames[span.Kind];
        }

        if (scope.ScopeName is { Length: > 0 } scopeName)
        {
            attributes["otel.scope.name"] = scopeName;
        }

        if (scope.ScopeVersion is { Length: > 0 } scopeVersion)
        {
            attributes["otel.scope.version"] = scopeVersion;
        }

        if (span.StatusMessage is { Length: > 0 } statusMessage && error != statusMessage)
        {
            attributes["otel.status_description"] = statusMessage;
        }

        if (span.TraceState is { Length: > 0 } traceState)
        {
            attributes["otel.trace_state"] = traceState;
        }

        var events = span.Events.Where(e => !usedEvents.Contains(e)).ToList();
        if (events.Count > 0)
        {
            attributes["events"] = new JsonArray(events.Select(e => (JsonNode)new JsonObject
            {
                ["name"] = e.Name,
                ["time"] = OtlpValues.FromUnixNanos(e.TimeUnixNano)?.ToString("O", CultureInfo.InvariantCulture),
                ["attributes"] = OtlpValues.ToObject(e.Attributes, OtlpValues.MaxAttributeValueLength),
            }).ToArray());
        }

        if (span.Links.Count > 0)
        {
            attributes["links"] = new JsonArray(span.Links.Select(l => (JsonNode)new JsonObject
            {
                ["trace_id"] = l.TraceId.Hex,
                ["span_id"] = l.SpanId.Hex,
                ["attributes"] = OtlpValues.ToObject(l.Attributes, OtlpValues.MaxAttributeValueLength),
            }).ToArray());
        }

        return new SpanRecord
        {
            TraceKey = span.TraceId.Hex!,
            SpanKey = span.SpanId.Hex!,
            ParentKey = span.ParentSpanId.Hex,
            Path = path,
            Kind = kind,
            Name = string.IsNullOrEmpty(name) ? null : name,
            StartedAt = OtlpValues.FromUnixNanos(span.StartTimeUnixNano),
            EndedAt = OtlpValues.FromUnixNanos(span.EndTimeUnixNano),
            Input = input?.ToJsonString(),
            Output = output?.ToJsonString(),
            Attributes = attributes.Count > 0 ? attributes.ToJsonString() : null,
            Error = error,
            Model = model,
            Provider = provider,
            PromptTokens = prompt,
            CompletionTokens = completion,
            Cost = cost,
            Trace = hints,
        };
    }

    private static SpanKind Kind(OtlpAttributeBag bag)
    {
        // The kind attributes stay in the attributes object: the five kinds here are coarser than theirs.
        var langfuse = OtlpValues.Text(bag.Peek("langfuse.observation.type"))?.ToUpperInvariant();
        var openInference = OtlpValues.Text(bag.Peek("openinference.span.kind"))?.ToUpperInvariant();
        var operation = OtlpValues.Text(bag.Peek("gen_ai.operation.name"))?.ToLowerInvariant();
        var traceloop = OtlpValues.Text(bag.Peek("traceloop.span.kind"))?.ToLowerInvariant();
        var kind = langfuse switch
        {
            "GENERATION" => SpanKind.Llm,
            "TOOL" => SpanKind.Tool,
            "AGENT" or "CHAIN" => SpanKind.Chain,
            "RETRIEVER" => SpanKind.Retrieval,
            "SPAN" or "EVENT" or "EMBEDDING" or "EVALUATOR" or "GUARDRAIL" => SpanKind.Other,
            _ => (SpanKind?)null,
        } ?? openInference switch
        {
            "LLM" => SpanKind.Llm,
            "TOOL" => SpanKind.Tool,
            "CHAIN" or "AGENT" => SpanKind.Chain,
            "RETRIEVER" or "RERANKER" => SpanKind.Retrieval,
            "EMBEDDING" or "GUARDRAIL" or "EVALUATOR" or "PROMPT" or "UNKNOWN" => SpanKind.Other,
            _ => (SpanKind?)null,
        } ?? operation switch
        {
            "chat" or "text_completion" or "generate_content" or "completion" => SpanKind.Llm,
            "execute_tool" => SpanKind.Tool,
            "invoke_agent" or "create_agent" or "invoke_workflow" => SpanKind.Chain,
            "embeddings" => SpanKind.Other,
            _ => (SpanKind?)null,
        } ?? traceloop switch
        {
            "workflow" or "task" or "agent" => SpanKind.Chain,
            "tool" => SpanKind.Tool,
            "llm" => SpanKind.Llm,
            _ => (SpanKind?)null,
        };
        if (kind is { } known)
        {
            return known;
        }

        if (bag.Has("llm.request.type") || bag.Has("gen_ai.input.messages") || bag.Has("gen_ai.output.messages") || bag.HasPrefix("gen_ai.prompt.")
            || bag.HasPrefix("gen_ai.completion.") || bag.HasPrefix("llm.input_messages.") || bag.HasPrefix("llm.output_messages."))
        {
            return SpanKind.Llm;
        }

        return bag.Has("gen_ai.tool.name") || bag.Has("gen_ai.tool.call.arguments") ? SpanKind.Tool : SpanKind.Other;
    }

    /// <summary>Model precedence: Langfuse's, then the response's, then the request's, then OpenInference's; a differing request model stays in the attributes.</summary>
    private static string? Model(OtlpAttributeBag bag)
    {
        string? model = null;
        foreach (var key in ModelKeys)
        {
            if (OtlpValues.Text(bag.Peek(key)) is not { Length: > 0 } value)
            {
                continue;
            }

            model ??= value;
            if (value == model)
            {
                bag.Use(key);
            }
        }

        return model;
    }

    private static (int? Prompt, int? Completion) Tokens(OtlpAttributeBag bag)
    {
        int? prompt = null;
        int? completion = null;
        if (OtlpValues.Structured(bag.Peek("langfuse.observation.usage_details")) is JsonObject usage)
        {
            prompt = Count(usage["input"] ?? usage["prompt_tokens"] ?? usage["promptTokens"]);
            completion = Count(usage["output"] ?? usage["completion_tokens"] ?? usage["completionTokens"]);
            if (prompt is not null || completion is not null)
            {
                bag.Use("langfuse.observation.usage_details");
            }
        }

        prompt ??= FirstCount(bag, "gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "llm.token_count.prompt", "llm.usage.prompt_tokens");
        completion ??= FirstCount(bag, "gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens", "llm.token_count.completion", "llm.usage.completion_tokens");
        return (prompt, completion);

        static int? Count(JsonNode? node) => node is JsonValue v && v.TryGetValue<double>(out var d) && double.IsFinite(d) ? Clamp((long)d) : null;
    }

    private static int? FirstCount(OtlpAttributeBag bag, params string[] keys)
    {
        foreach (var key in keys)
        {
            if (OtlpValues.WholeNumber(bag.Peek(key)) is { } n)
            {
                bag.Use(key);
                return Clamp(n);
            }
        }

        return null;
    }

    private static int Clamp(long n) => (int)Math.Clamp(n, int.MinValue, int.MaxValue);

    /// <summary>Cost precedence: Langfuse's cost details (total, else the sum), <c>gen_ai.usage.cost</c>, <c>llm.cost.total</c>, the sum of <c>llm.cost.prompt</c> and <c>.completion</c>.</summary>
    private static decimal? Cost(OtlpAttributeBag bag)
    {
        if (OtlpValues.Structured(bag.Peek("langfuse.observation.cost_details")) is JsonObject details)
        {
            var values = details.Where(p => p.Key != "total").Select(p => p.Value is JsonValue v && v.TryGetValue<double>(out var d) ? d : (double?)null).ToList();
            var total = details["total"] is JsonValue t && t.TryGetValue<double>(out var td) ? td : values.Any(v => v is not null) ? values.Sum(v => v ?? 0) : (double?)null;
            if (total is { } sum && ToDecimal(sum) is { } cost)
            {
                bag.Use("langfuse.observation.cost_details");
                return cost;
            }
        }

        foreach (var key in CostKeys)
        {
            if (OtlpValues.Number(bag.Peek(key)) is { } n && ToDecimal(n) is { } cost)
            {
                bag.Use(key);
                return cost;
            }
        }

        var prompt = OtlpValues.Number(bag.Peek("llm.cost.prompt"));
        var completion = OtlpValues.Number(bag.Peek("llm.cost.completion"));
        if ((prompt is not null || completion is not null) && ToDecimal((prompt ?? 0) + (completion ?? 0)) is { } parts)
        {
            bag.Use("llm.cost.prompt");
            bag.Use("llm.cost.completion");
            return parts;
        }

        return null;

        static decimal? ToDecimal(double d) => double.IsFinite(d) && Math.Abs(d) < 1e12 ? (decimal)d : null;
    }

    private static string? FirstText(OtlpAttributeBag bag, string[] keys)
    {
        foreach (var key in keys)
        {
            if (OtlpValues.Text(bag.Peek(key)) is { Length: > 0 } value)
            {
                bag.Use(key);
                return value;
            }
        }

        return null;
    }

    /// <summary>A generic input or output: the first key present, honouring an OpenInference mime type beside it.</summary>
    private static JsonNode? Payload(OtlpAttributeBag bag, params string[] keys)
    {
        foreach (var key in keys)
        {
            if (bag.Take(key) is { } value)
            {
                var mimeKey = key is "input.value" ? "input.mime_type" : key is "output.value" ? "output.mime_type" : null;
                var mime = mimeKey is null ? null : bag.TakeText(mimeKey);
                return OtlpValues.Payload(value, mime);
            }
        }

        return null;
    }

    /// <summary>
    /// A generation's conversation: input as <c>{"messages":[…]}</c> and output as the assistant message,
    /// from the first source present (Langfuse, GenAI attributes or the operation-details event, per-message
    /// events, <c>gen_ai.prompt.{i}</c>, the v1.26 content events, OpenInference, then <c>input.value</c>).
    /// </summary>
    private static (JsonNode? Input, JsonNode? Output) LlmInputOutput(OtlpAttributeBag bag, OtlpSpan span, HashSet<OtlpEvent> usedEvents)
    {
        var inputMessages = LangfuseMessages(bag, "langfuse.observation.input") is { } lf ? lf
            : Messages(bag, "gen_ai.input.messages") ?? EventMessages(span, usedEvents) ?? Flattened(bag, "gen_ai.prompt.", "user")
              ?? ContentEvent(span, usedEvents, "gen_ai.content.prompt", "gen_ai.prompt") ?? OpenInference(bag, "llm.input_messages.")
              ?? LangfuseMessages(bag, "input.value");
        JsonNode? input = null;
        if (inputMessages is not null)
        {
            if (bag.Peek("gen_ai.system_instructions") is { } instructions
                && OtlpMessages.SystemInstructions(OtlpValues.Structured(instructions)) is { } system)
            {
                bag.Use("gen_ai.system_instructions");
                if (!inputMessages.Any(m => m["role"] is JsonValue role && role.TryGetValue<string>(out var r) && r == "system"))
                {
                    inputMessages.Insert(0, system);
                }
            }

            input = new JsonObject { ["messages"] = new JsonArray(inputMessages.Select(m => (JsonNode)m).ToArray()) };
        }
        else if (Payload(bag, "langfuse.observation.input", "input.value") is { } raw)
        {
            input = raw;
        }

        var outputMessages = LangfuseMessages(bag, "langfuse.observation.output", isOutput: true)
            ?? Messages(bag, "gen_ai.output.messages") ?? ChoiceEvents(span, usedEvents) ?? Flattened(bag, "gen_ai.completion.", "assistant")
            ?? ContentEvent(span, usedEvents, "gen_ai.content.completion", "gen_ai.completion") ?? OpenInference(bag, "llm.output_messages.")
            ?? LangfuseMessages(bag, "output.value", isOutput: true);
        var output = outputMessages is not null ? OtlpMessages.Output(outputMessages) : Payload(bag, "langfuse.observation.output", "output.value");
        return (input, output);
    }

    /// <summary>A JSON value that holds messages (an array, <c>{"messages":[…]}</c>, OpenAI <c>choices</c>, or one message), or plain text.</summary>
    private static List<JsonObject>? LangfuseMessages(OtlpAttributeBag bag, string key, bool isOutput = false)
    {
        if (bag.Peek(key) is not { } value)
        {
            return null;
        }

        var mimeKey = key is "input.value" ? "input.mime_type" : key is "output.value" ? "output.mime_type" : null;
        var json = OtlpValues.Payload(value, mimeKey is null ? null : OtlpValues.Text(bag.Peek(mimeKey)));
        List<JsonObject>? messages = json switch
        {
            JsonArray array when array.Count > 0 && array.All(m => m is JsonObject o && o["role"] is not null) => OtlpMessages.FromGenAi(array),
            JsonObject { } o when o["messages"] is JsonArray list && list.All(m => m is JsonObject) => OtlpMessages.FromGenAi(list),
            JsonObject { } o when isOutput && o["choices"] is JsonArray choices =>
                choices.OfType<JsonObject>().Select(c => c["message"]).OfType<JsonObject>().Select(OtlpMessages.Normalize).ToList(),
            JsonObject { } o when o["role"] is not null => [OtlpMessages.Normalize(o)],
            JsonValue v when v.TryGetValue<string>(out var text) => [new JsonObject { ["role"] = isOutput ? "assistant" : "user", ["content"] = text }],
            _ => null,
        };
        if (messages is null || messages.Count == 0)
        {
            return null;
        }

        // A whole request or response body (model, parameters, usage beside the messages) stays in the
        // attributes as well: only a value that is nothing but the conversation is used up.
        var onlyConversation = json is JsonArray or JsonValue
            || (json is JsonObject body && body.All(p => p.Key is "messages" or "role" or "content" or "tool_calls" or "name" or "tool_call_id" or "refusal"));
        if (onlyConversation)
        {
            bag.Use(key);
            if (mimeKey is not null)
            {
                bag.Use(mimeKey);
            }
        }

        return messages;
    }

    private static List<JsonObject>? Messages(OtlpAttributeBag bag, string key)
    {
        var messages = OtlpMessages.FromGenAi(OtlpValues.Structured(bag.Peek(key)));
        return messages.Count > 0 ? bag.Use(key, messages) : null;
    }

    private static List<JsonObject>? Flattened(OtlpAttributeBag bag, string prefix, string defaultRole)
    {
        var entries = bag.WithPrefix(prefix);
        var messages = OtlpMessages.FromOpenLlmetry(OtlpMessages.Indexed(entries), defaultRole);
        return Consume(bag, entries, messages);
    }

    private static List<JsonObject>? OpenInference(OtlpAttributeBag bag, string prefix)
    {
        var entries = bag.WithPrefix(prefix);
        return Consume(bag, entries, OtlpMessages.FromOpenInference(OtlpMessages.Indexed(entries)));
    }

    private static List<JsonObject>? Consume(OtlpAttributeBag bag, List<(string Key, string Suffix, object? Value)> entries, List<JsonObject> messages)
    {
        if (messages.Count == 0)
        {
            return null;
        }

        foreach (var (key, _, _) in entries)
        {
            bag.Use(key);
        }

        return messages;
    }

    /// <summary>The per-message events of conventions up to v1.36, in their order on the span.</summary>
    private static List<JsonObject>? EventMessages(OtlpSpan span, HashSet<OtlpEvent> used)
    {
        var events = span.Events.Where(e => MessageEvents.Contains(e.Name)).ToList();
        if (events.Count == 0)
        {
            return null;
        }

        used.UnionWith(events);
        return events.Select(e => OtlpMessages.FromEventBody(e.Name["gen_ai.".Length..^".message".Length], EventBody(e))).ToList();
    }

    private static List<JsonObject>? ChoiceEvents(OtlpSpan span, HashSet<OtlpEvent> used)
    {
        var events = span.Events.Where(e => e.Name == "gen_ai.choice").ToList();
        if (events.Count == 0)
        {
            return null;
        }

        used.UnionWith(events);
        return events.Select(e => OtlpMessages.FromEventBody("assistant", EventBody(e))).ToList();
    }

    /// <summary>An event's body: its attributes, with a JSON body attribute (<c>body</c>, <c>event.body</c>, <c>gen_ai.event.content</c>) spread over them.</summary>
    private static JsonObject EventBody(OtlpEvent e)
    {
        var body = new JsonObject();
        foreach (var a in e.Attributes)
        {
            if (a.Key is "body" or "event.body" or "gen_ai.event.content" && OtlpValues.Structured(a.Value) is JsonObject inner)
            {
                foreach (var (k, v) in inner)
                {
                    body[k] = v?.DeepClone();
                }
            }
            else if (a.Key.StartsWith("message.", StringComparison.Ordinal))
            {
                body["message"] ??= new JsonObject();
                body["message"]![a.Key["message.".Length..]] = OtlpValues.Structured(a.Value);
            }
            else
            {
                body[a.Key] = a.Key is "content" ? OtlpValues.ToJson(a.Value) : OtlpValues.Structured(a.Value);
            }
        }

        return body;
    }

    /// <summary>The v1.26 span events <c>gen_ai.content.prompt</c>/<c>.completion</c>, whose attribute holds the messages as JSON.</summary>
    private static List<JsonObject>? ContentEvent(OtlpSpan span, HashSet<OtlpEvent> used, string eventName, string attribute)
    {
        var ev = span.Events.FirstOrDefault(e => e.Name == eventName);
        var value = ev?.Attributes.LastOrDefault(a => a.Key == attribute)?.Value;
        if (value is null)
        {
            return null;
        }

        var json = OtlpValues.Structured(value);
        var messages = json is JsonObject { } o && o["choices"] is JsonArray choices
            ? choices.OfType<JsonObject>().Select(c => c["message"]).OfType<JsonObject>().Select(OtlpMessages.Normalize).ToList()
            : OtlpMessages.FromGenAi(json);
        if (messages.Count == 0)
        {
            return null;
        }

        used.Add(ev!);
        return messages;
    }

    /// <summary>An error status (its message, else <c>error.type</c>, else the first exception event), Langfuse's ERROR level, or <c>error.type</c> alone.</summary>
    private static string? Error(OtlpAttributeBag bag, OtlpSpan span)
    {
        var level = OtlpValues.Text(bag.Peek("langfuse.observation.level"));
        var isError = span.StatusCode == 2 || string.Equals(level, "ERROR", StringComparison.OrdinalIgnoreCase) || bag.Has("error.type");
        if (!isError)
        {
            return null;
        }

        if (string.Equals(level, "ERROR", StringComparison.OrdinalIgnoreCase))
        {
            bag.Use("langfuse.observation.level");
        }

        var exception = span.Events.FirstOrDefault(e => e.Name == "exception") is { } ev
            ? string.Join(": ", ExceptionKeys.Select(k => OtlpValues.Text(ev.Attributes.LastOrDefault(a => a.Key == k)?.Value)).Where(t => !string.IsNullOrEmpty(t)))
            : null;
        var error = span.StatusMessage is { Length: > 0 } message ? message
            : bag.TakeText("langfuse.observation.status_message") is { Length: > 0 } status ? status
            : bag.TakeText("error.type") is { Length: > 0 } type ? type
            : string.IsNullOrEmpty(exception) ? "Error" : exception;
        return error.Length > IngestionLimits.MaxErrorText ? error[..IngestionLimits.MaxErrorText] : error;
    }

    private static TraceHints? Hints(OtlpAttributeBag bag, OtlpSpan span, ResourceFacts resource, bool withResourceMetadata)
    {
        var metadata = new JsonObject();
        if (withResourceMetadata && resource.Attributes.Count > 0)
        {
            metadata["resource"] = resource.Attributes.DeepClone();
        }

        if (bag.Peek("langfuse.trace.metadata") is { } lfMetadata)
        {
            Spread(OtlpValues.Structured(bag.Use("langfuse.trace.metadata", lfMetadata)));
        }

        foreach (var (key, rest, value) in bag.WithPrefix("langfuse.trace.metadata."))
        {
            metadata[rest] = OtlpValues.Structured(bag.Use(key, value));
        }

        if (bag.Peek("metadata") is { } oiMetadata)
        {
            Spread(OtlpValues.Structured(bag.Use("metadata", oiMetadata)));
        }

        var tags = new List<string>();
        foreach (var key in TagKeys)
        {
            if (bag.Peek(key) is { } value)
            {
                bag.Use(key);
                tags.AddRange(Tags(value));
            }
        }

        if (resource.ProjectTag is { } project)
        {
            tags.Add(project);
        }

        var ttft = TimeToFirstToken(bag, span);
        var hints = new TraceHints
        {
            Name = bag.TakeText("langfuse.trace.name"),
            SessionId = bag.TakeText("session.id") ?? bag.TakeText("gen_ai.conversation.id") ?? bag.TakeText("traceloop.association.properties.session_id"),
            UserId = bag.TakeText("user.id") ?? bag.TakeText("enduser.id") ?? bag.TakeText("traceloop.association.properties.user_id"),
            Environment = bag.TakeText("langfuse.environment") ?? resource.Environment,
            Release = bag.TakeText("langfuse.release") ?? resource.Release,
            Tags = tags.Count > 0 ? tags.Distinct(StringComparer.Ordinal).ToList() : null,
            Metadata = metadata.Count > 0 ? metadata.ToJsonString() : null,
            TimeToFirstTokenMs = ttft,
        };
        return hints is { Name: null, SessionId: null, UserId: null, Environment: null, Release: null, Tags: null, Metadata: null, TimeToFirstTokenMs: null }
            ? null
            : hints;

        void Spread(JsonNode? node)
        {
            if (node is JsonObject obj)
            {
                foreach (var (k, v) in obj)
                {
                    metadata[k] = v?.DeepClone();
                }
            }
            else if (node is not null)
            {
                metadata["metadata"] = node;
            }
        }
    }

    /// <summary>Tags as a list, a JSON list in a string, or comma-separated text; each cut to the tag limit.</summary>
    private static IEnumerable<string> Tags(object value)
    {
        var node = OtlpValues.Structured(value);
        var items = node is JsonArray array
            ? array.Select(t => t is JsonValue v ? v.ToString() : t?.ToJsonString())
            : (OtlpValues.Text(value) ?? "").Split(',', StringSplitOptions.TrimEntries);
        return items.Where(t => !string.IsNullOrWhiteSpace(t)).Select(t => t!.Length > IngestionLimits.MaxTagLength ? t[..IngestionLimits.MaxTagLength] : t!);
    }

    private static double? TimeToFirstToken(OtlpAttributeBag bag, OtlpSpan span)
    {
        if (OtlpValues.Text(bag.Peek("langfuse.observation.completion_start_time")) is { } text
            && OtlpValues.FromUnixNanos(span.StartTimeUnixNano) is { } start
            && DateTimeOffset.TryParse(text.Trim('"'), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var first)
            && first >= start)
        {
            bag.Use("langfuse.observation.completion_start_time");
            return (first - start).TotalMilliseconds;
        }

        if (OtlpValues.Number(bag.Peek("gen_ai.server.time_to_first_token")) is { } seconds && seconds >= 0)
        {
            bag.Use("gen_ai.server.time_to_first_token");
            return seconds * 1000;
        }

        return null;
    }
}

/// <summary>What a resource says about its spans' traces: environment, release, project tag, and its attributes for the trace metadata.</summary>
public sealed class ResourceFacts
{
    public string? Environment { get; private init; }
    public string? Release { get; private init; }
    public string? ProjectTag { get; private init; }
    public JsonObject Attributes { get; private init; } = [];

    public static ResourceFacts From(IReadOnlyList<OtlpAttribute> attributes, string? projectHeader)
    {
        string? Text(string key) => OtlpValues.Text(attributes.LastOrDefault(a => a.Key == key)?.Value) is { Length: > 0 } t ? t : null;
        var project = string.IsNullOrWhiteSpace(projectHeader) ? Text("openinference.project.name") : projectHeader.Trim();
        var tag = project is null ? null : "project:" + project;
        return new ResourceFacts
        {
            Environment = Text("deployment.environment.name") ?? Text("deployment.environment"),
            Release = Text("service.version"),
            ProjectTag = tag is null ? null : tag.Length > IngestionLimits.MaxTagLength ? tag[..IngestionLimits.MaxTagLength] : tag,
            Attributes = OtlpValues.ToObject(attributes, OtlpValues.MaxAttributeValueLength),
        };
    }
}
