using System.Text.Json;
using EvalPlatform.Core.Otlp;
using EvalPlatform.Core.Traces;
using static EvalPlatform.Tests.Unit.Otlp.OtlpFixtures;

namespace EvalPlatform.Tests.Unit.Otlp;

public sealed class OtlpSpanMapperTests
{
    [Fact]
    public void GenAiLatest_ChatToolSpanAndMetadata()
    {
        var records = Map("genai-latest.json");
        var chat = records[0];
        Assert.Equal(SpanKind.Llm, chat.Kind);
        Assert.Equal("4bf92f3577b34da6a3ce929d0e0e4736", chat.TraceKey);
        Assert.Equal("gpt-4o-2024-08-06", chat.Model);
        Assert.Equal("openai", chat.Provider);
        Assert.Equal((812, 64), (chat.PromptTokens, chat.CompletionTokens));
        Assert.Equal(new DateTimeOffset(2025, 8, 20, 10, 0, 1, 200, TimeSpan.Zero), chat.EndedAt);
        Assert.Equal("s-9", chat.Trace!.SessionId);
        Assert.Equal("production", chat.Trace.Environment);
        Assert.Equal("2.4.1", chat.Trace.Release);
        Assert.Equal("support-bot", Json(chat.Trace.Metadata).GetProperty("resource").GetProperty("service.name").GetString());

        var messages = Chat(chat);
        Assert.Equal(["system", "user", "assistant"], messages.Select(m => m.Role).ToArray());
        Assert.Equal("You are…", messages[0].Text);
        Assert.Equal("refund?", messages[1].Text);
        var call = Assert.Single(messages[2].ToolCalls);
        Assert.Equal(("c1", "lookup_order"), (call.Id, call.Name));
        Assert.Equal(7, Json(call.Arguments).GetProperty("id").GetInt32());
        Assert.True(messages[2].IsResponse);

        var attributes = Attributes(chat);
        Assert.Equal("gpt-4o", attributes.GetProperty("gen_ai.request.model").GetString());
        Assert.Equal(0.2, attributes.GetProperty("gen_ai.request.temperature").GetDouble());
        Assert.Equal("tool_call", attributes.GetProperty("gen_ai.response.finish_reasons")[0].GetString());
        Assert.Equal("client", attributes.GetProperty("otel.span.kind").GetString());
        Assert.Equal("Microsoft.Extensions.AI", attributes.GetProperty("otel.scope.name").GetString());
        foreach (var mapped in new[] { "gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions", "gen_ai.usage.input_tokens", "gen_ai.response.model", "gen_ai.provider.name", "gen_ai.conversation.id" })
        {
            Assert.False(attributes.TryGetProperty(mapped, out _), mapped);
        }

        var tool = records[1];
        Assert.Equal(SpanKind.Tool, tool.Kind);
        Assert.Equal("lookup_order", tool.Name);
        Assert.Equal("00f067aa0ba902b7", tool.ParentKey);
        Assert.Equal(7, Json(tool.Input).GetProperty("id").GetInt32());
        Assert.Equal("shipped", Json(tool.Output).GetProperty("status").GetString());
        Assert.Equal("c1", Attributes(tool).GetProperty("gen_ai.tool.call.id").GetString());
        Assert.Equal("execute_tool lookup_order", Attributes(tool).GetProperty("otel.span.name").GetString());
    }

    [Fact]
    public void OpenInference_LangChainStyle_FlattenedMessagesToolAndRetriever()
    {
        var records = Map("openinference-langchain.json");
        Assert.All(records, r => Assert.Equal("0102030405060708090a0b0c0d0e0f10", r.TraceKey));

        var chain = records[0];
        Assert.Equal(SpanKind.Chain, chain.Kind);
        Assert.Equal("0000000000000001", chain.SpanKey);
        Assert.Null(chain.ParentKey);
        Assert.Equal("Where is order 7?", Json(chain.Input).GetProperty("input").GetString());
        Assert.Equal("Order 7 has shipped.", Json(chain.Output).GetString());
        Assert.Equal(("sess-42", "user-7"), (chain.Trace!.SessionId, chain.Trace.UserId));
        Assert.Equal(["beta", "rag", "project:support"], chain.Trace.Tags);
        var metadata = Json(chain.Trace.Metadata);
        Assert.Equal("acme", metadata.GetProperty("tenant").GetString());
        Assert.Equal(2, metadata.GetProperty("tier").GetInt32());

        var llm = records[1];
        Assert.Equal(SpanKind.Llm, llm.Kind);
        Assert.Equal("0000000000000001", llm.ParentKey);
        Assert.Equal(("gpt-4o-mini", "openai"), (llm.Model, llm.Provider));
        Assert.Equal((120, 18), (llm.PromptTokens, llm.CompletionTokens));
        Assert.Equal(0.0000288m, llm.Cost);
        var messages = Chat(llm);
        Assert.Equal(["system", "user", "assistant"], messages.Select(m => m.Role).ToArray());
        Assert.Equal("Where is order 7?", messages[1].Text);
        var call = Assert.Single(messages[2].ToolCalls);
        Assert.Equal(("call_1", "lookup_order"), (call.Id, call.Name));
        Assert.Equal(7, Json(call.Arguments).GetProperty("order_id").GetInt32());
        var attributes = Attributes(llm);
        Assert.Equal(138, attributes.GetProperty("llm.token_count.total").GetInt32());
        Assert.Equal("{\"temperature\": 0}", attributes.GetProperty("llm.invocation_parameters").GetString());
        Assert.Equal("LLM", attributes.GetProperty("openinference.span.kind").GetString());
        Assert.True(attributes.TryGetProperty("input.value", out _), "a request body that is more than the conversation stays");
        Assert.False(attributes.TryGetProperty("llm.input_messages.0.message.role", out _));

        var tool = records[2];
        Assert.Equal(SpanKind.Tool, tool.Kind);
        Assert.Equal("lookup_order", tool.Name);
        Assert.Equal(7, Json(tool.Input).GetProperty("order_id").GetInt32());
        Assert.Equal("shipped on 2026-08-19", Json(tool.Output).GetString());
        Assert.Equal("Look an order up by id.", Attributes(tool).GetProperty("tool.description").GetString());
        Assert.True(Attributes(tool).TryGetProperty("tool.parameters", out _));

        var retriever = records[3];
        Assert.Equal(SpanKind.Retrieval, retriever.Kind);
        Assert.Equal("order 7", Json(retriever.Input).GetString());
        Assert.Equal("Orders ship in 2 days.", Attributes(retriever).GetProperty("retrieval.documents.0.document.content").GetString());
        Assert.Equal("openinference.instrumentation.langchain", Attributes(retriever).GetProperty("otel.scope.name").GetString());
    }

    [Fact]
    public void ProjectHeader_WinsOverTheResourceProject()
    {
        var records = Map("openinference-langchain.json", project: "from-header");
        Assert.Contains("project:from-header", records[0].Trace!.Tags!);
        Assert.DoesNotContain("project:support", records[0].Trace!.Tags!);
    }

    [Fact]
    public void OpenLlmetry_IndexedPromptAndCompletion_WorkflowAndTool()
    {
        var records = Map("openllmetry.json");
        var chat = records[0];
        Assert.Equal(SpanKind.Llm, chat.Kind);
        Assert.Equal("eee19b7ec3c1b173", chat.ParentKey);
        Assert.Equal(("gpt-4o-mini-2024-07-18", "openai"), (chat.Model, chat.Provider));
        Assert.Equal((57, 17), (chat.PromptTokens, chat.CompletionTokens));
        Assert.Equal(("conv-77", "u-3", "staging"), (chat.Trace!.SessionId, chat.Trace.UserId, chat.Trace.Environment));
        var messages = Chat(chat);
        Assert.Equal(["system", "user", "assistant"], messages.Select(m => m.Role).ToArray());
        Assert.Equal("You are a weather bot.", messages[0].Text);
        Assert.Equal("Weather in Paris?", messages[1].Text);
        var call = Assert.Single(messages[2].ToolCalls);
        Assert.Equal(("call_w1", "get_weather"), (call.Id, call.Name));
        Assert.Equal("Paris", Json(call.Arguments).GetProperty("city").GetString());
        var attributes = Attributes(chat);
        Assert.Equal(74, attributes.GetProperty("llm.usage.total_tokens").GetInt32());
        Assert.Equal("weather_flow", attributes.GetProperty("traceloop.workflow.name").GetString());
        Assert.Equal("gpt-4o-mini", attributes.GetProperty("gen_ai.request.model").GetString());
        Assert.False(attributes.GetProperty("llm.is_streaming").GetBoolean());
        Assert.False(attributes.TryGetProperty("gen_ai.prompt.0.content", out _));

        var workflow = records[1];
        Assert.Equal(SpanKind.Chain, workflow.Kind);
        Assert.Equal("Paris", Json(workflow.Input).GetProperty("args")[0].GetString());
        Assert.Equal("18C and sunny", Json(workflow.Output).GetString());

        var tool = records[2];
        Assert.Equal(SpanKind.Tool, tool.Kind);
        Assert.Equal("get_weather", tool.Name);
        Assert.Equal("Paris", Json(tool.Input).GetProperty("kwargs").GetProperty("city").GetString());
        Assert.Equal(18, Json(tool.Output).GetProperty("temp_c").GetInt32());
    }

    [Fact]
    public void PerMessageEvents_AndOperationDetailsEvent_BecomeTheConversation()
    {
        var records = Map("genai-events.json");
        var chat = records[0];
        Assert.Equal(SpanKind.Llm, chat.Kind);
        Assert.Equal(("gpt-4o", "openai"), (chat.Model, chat.Provider));
        Assert.Equal(0.00022m, chat.Cost);
        var messages = Chat(chat);
        Assert.Equal(["system", "user", "assistant", "tool", "assistant"], messages.Select(m => m.Role).ToArray());
        Assert.Equal("Be terse.", messages[0].Text);
        Assert.Equal("Weather in Oslo?", messages[1].Text);
        var call = Assert.Single(messages[2].ToolCalls);
        Assert.Equal(("call_o", "get_weather"), (call.Id, call.Name));
        Assert.Equal("Oslo", Json(call.Arguments).GetProperty("city").GetString());
        Assert.Equal(("-3C", "call_o"), (messages[3].Text, messages[3].ToolCallId));
        Assert.Equal("-3C in Oslo.", messages[4].Text);
        Assert.True(messages[4].IsResponse);
        var events = Attributes(chat).GetProperty("events");
        var unmapped = Assert.Single(events.EnumerateArray());
        Assert.Equal("custom.checkpoint", unmapped.GetProperty("name").GetString());
        Assert.Equal(3, unmapped.GetProperty("attributes").GetProperty("step").GetInt32());

        var details = records[1];
        Assert.Equal(("claude-sonnet-4", "anthropic"), (details.Model, details.Provider));
        Assert.Equal(9, details.PromptTokens);
        Assert.Equal("Anthropic API overloaded", details.Error);
        var detailMessages = Chat(details);
        Assert.Equal(("user", "Say hi"), (detailMessages[0].Role, detailMessages[0].Text));
        Assert.Equal(("assistant", "Hi!"), (detailMessages[1].Role, detailMessages[1].Text));
        var detailAttributes = Attributes(details);
        Assert.Equal("overloaded_error", detailAttributes.GetProperty("error.type").GetString());
        Assert.Equal("exception", Assert.Single(detailAttributes.GetProperty("events").EnumerateArray()).GetProperty("name").GetString());
    }

    [Fact]
    public void Langfuse_TraceAndObservationAttributes()
    {
        var records = Map("langfuse.json");
        var root = records[0];
        Assert.Equal(SpanKind.Other, root.Kind);
        var hints = root.Trace!;
        Assert.Equal(("support-chat", "s-9", "u-42"), (hints.Name, hints.SessionId, hints.UserId));
        Assert.Equal(("production", "v1.2.3"), (hints.Environment, hints.Release));
        Assert.Equal(["prod", "vip"], hints.Tags);
        Assert.Equal("acme", Json(hints.Metadata).GetProperty("tenant").GetString());
        Assert.Equal("refund?", Json(root.Input).GetProperty("q").GetString());
        Assert.Equal("Refund issued.", Json(root.Output).GetString());

        var generation = records[1];
        Assert.Equal(SpanKind.Llm, generation.Kind);
        Assert.Equal("gpt-4o", generation.Model);
        Assert.Equal((812, 64), (generation.PromptTokens, generation.CompletionTokens));
        Assert.Equal(0.0026m, generation.Cost);
        Assert.Null(generation.Error);
        Assert.Equal(300, generation.Trace!.TimeToFirstTokenMs!.Value, precision: 6);
        var messages = Chat(generation);
        Assert.Equal(["system", "user", "assistant"], messages.Select(m => m.Role).ToArray());
        Assert.Equal("Let me check.", messages[2].Text);
        Assert.Equal("lookup_order", Assert.Single(messages[2].ToolCalls).Name);
        var attributes = Attributes(generation);
        Assert.Equal("gpt-4o-mini", attributes.GetProperty("gen_ai.request.model").GetString());
        Assert.Equal("WARNING", attributes.GetProperty("langfuse.observation.level").GetString());
        Assert.Equal("slow answer", attributes.GetProperty("langfuse.observation.status_message").GetString());
        Assert.True(attributes.TryGetProperty("langfuse.observation.model.parameters", out _));
        Assert.False(attributes.TryGetProperty("langfuse.observation.usage_details", out _));

        var tool = records[2];
        Assert.Equal(SpanKind.Tool, tool.Kind);
        Assert.Equal(7, Json(tool.Input).GetProperty("id").GetInt32());
        Assert.Equal("shipped", Json(tool.Output).GetProperty("status").GetString());

        Assert.Equal("smtp timeout", records[3].Error);
    }

    [Fact]
    public void BadIds_RejectThatSpanOnly_ByPath()
    {
        var request = Read("genai-latest.json");
        request.ResourceSpans[0].ScopeSpans[0].Spans[1].TraceId = OtlpId.FromText("not-hex", 16);

        var mapping = OtlpSpanMapper.Map(request);

        Assert.Single(mapping.Records);
        var error = Assert.Single(mapping.Rejected);
        Assert.Equal("resourceSpans[0].scopeSpans[0].spans[1].traceId", error.Field);
        Assert.Contains("32 hex digits", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LongAttributeValues_AreCutAndSaySo()
    {
        var request = Read("genai-latest.json");
        request.ResourceSpans[0].ScopeSpans[0].Spans[0].Attributes.Add(new OtlpAttribute("huge", new string('x', OtlpValues.MaxAttributeValueLength + 10)));

        var huge = Attributes(OtlpSpanMapper.Map(request).Records[0]).GetProperty("huge").GetString()!;

        Assert.StartsWith(new string('x', OtlpValues.MaxAttributeValueLength), huge, StringComparison.Ordinal);
        Assert.Contains("cut", huge, StringComparison.Ordinal);
    }

    [Fact]
    public void Json_AcceptsSnakeCase_Base64Ids_NumbersForInt64_AndEnumNames()
    {
        using var document = JsonDocument.Parse("""
            {"resource_spans":[{"scope_spans":[{"spans":[{"trace_id":"S/kvNXezTaajzpKdDg5HNg==","span_id":"APBnqgupArc=","name":"n",
              "kind":"SPAN_KIND_CLIENT","start_time_unix_nano":1755684000000000000,"end_time_unix_nano":"1755684001000000000",
              "attributes":[{"key":"n","value":{"int_value":5}},{"key":"b","value":{"bytesValue":"AQI="}}],"status":{"code":"STATUS_CODE_ERROR"}}]}]}]}
            """);
        var span = OtlpJson.ReadExportRequest(document.RootElement).ResourceSpans[0].ScopeSpans[0].Spans[0];

        Assert.Equal("4bf92f3577b34da6a3ce929d0e0e4736", span.TraceId.Hex);
        Assert.Equal("00f067aa0ba902b7", span.SpanId.Hex);
        Assert.Equal(3, span.Kind);
        Assert.Equal(2, span.StatusCode);
        Assert.Equal(1755684001000000000UL, span.EndTimeUnixNano);
        Assert.Equal(5L, span.Attributes[0].Value);
        Assert.Equal(new byte[] { 1, 2 }, span.Attributes[1].Value);
    }

    [Fact]
    public async Task TooManySpans_AreRefusedWhole_BeforeAnythingIsStored()
    {
        var request = Read("genai-latest.json");
        var spans = request.ResourceSpans[0].ScopeSpans[0].Spans;
        while (request.SpanCount <= OtlpLimits.MaxSpansPerRequest)
        {
            spans.Add(spans[0]);
        }

        // No assembler: the limit is checked before storage is reached.
        var e = await Assert.ThrowsAsync<InputValidationException>(() => new OtlpTraceImporter(null!, null!, null!).ImportAsync(request, null));

        Assert.Equal("resourceSpans", Assert.Single(e.Errors).Field);
    }

    [Fact]
    public void Json_WrongTypeInASpan_SkipsThatSpan_NamingThePath()
    {
        using var document = JsonDocument.Parse("""{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"4bf92f3577b34da6a3ce929d0e0e4736","startTimeUnixNano":"soon"},{"traceId":"4bf92f3577b34da6a3ce929d0e0e4736","spanId":"00f067aa0ba902b7","name":"ok"}]}]}]}""");

        var request = OtlpJson.ReadExportRequest(document.RootElement);

        Assert.Equal("resourceSpans[0].scopeSpans[0].spans[0].startTimeUnixNano", Assert.Single(request.Unreadable).Field);
        Assert.Equal("ok", Assert.Single(request.ResourceSpans[0].ScopeSpans[0].Spans).Name);
        Assert.Equal(2, request.SpanCount);
    }

    [Fact]
    public void Json_WrongTypeOutsideSpans_RefusesTheExport()
    {
        using var document = JsonDocument.Parse("""{"resourceSpans":[{"resource":{"attributes":"none"},"scopeSpans":[]}]}""");

        var e = Assert.Throws<OtlpFormatException>(() => OtlpJson.ReadExportRequest(document.RootElement));

        Assert.Equal("resourceSpans[0].resource.attributes", e.Path);
    }
}
