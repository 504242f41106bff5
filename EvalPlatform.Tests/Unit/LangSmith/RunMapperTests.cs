using System.Text.Json;
using System.Text.Json.Nodes;
using EvalPlatform.Core.Assembly;
using EvalPlatform.Core.Ingestion;
using EvalPlatform.Core.LangSmith;
using EvalPlatform.Core.Traces;

namespace EvalPlatform.Tests.Unit.LangSmith;

public sealed class RunMapperTests
{
    private const string Root = "0193a2b0-7c1e-7d3e-9a40-000000000001";
    private const string Child = "0193a2b0-7c1e-7d3e-9a40-1f2e3d4c5b6a";
    private const string Grandchild = "0193a2b0-7c1e-7d3e-9a40-00000000000c";

    private static (SpanRecord Record, List<FieldError> Errors) Map(string json, bool patch = false, SpanKind? known = null)
    {
        var op = new RunOperation(patch, JsonNode.Parse(Fill(json))!.AsObject(), "post[0]");
        var errors = new List<FieldError>();
        var ids = RunMapper.ReadIdentity(op, errors);
        Assert.True(ids is not null, string.Join("; ", errors));
        var record = RunMapper.Map(op, ids!, ids!.TraceId ?? ids.RunId, known, errors);
        return (record, errors);
    }

    private static string Fill(string json) =>
        json.Replace("@ROOT@", Root, StringComparison.Ordinal).Replace("@CHILD@", Child, StringComparison.Ordinal).Replace("@GRAND@", Grandchild, StringComparison.Ordinal);

    private static JsonElement Json(string? text) => JsonDocument.Parse(text!).RootElement;

    [Fact]
    public void DottedOrder_GivesTraceAndParent_FromFirstAndPenultimateSegments()
    {
        var dotted = $"20260820T100000000000Z{Root}.20260820T100000120000Z{Child}.20260820T100000250000Z{Grandchild}";
        var op = new RunOperation(false, new JsonObject { ["id"] = Grandchild, ["dotted_order"] = dotted }, "");
        var errors = new List<FieldError>();

        var ids = RunMapper.ReadIdentity(op, errors)!;

        Assert.Empty(errors);
        Assert.Equal(Root, ids.TraceId);
        Assert.Equal(Child, ids.ParentId);
        Assert.False(ids.IsRoot);
        var segments = DottedOrder.Parse(dotted, out _)!;
        Assert.Equal(new DateTimeOffset(2026, 8, 20, 10, 0, 0, 120, TimeSpan.Zero), segments[1].Time);
    }

    [Fact]
    public void DottedOrder_SingleSegment_IsARoot()
    {
        var op = new RunOperation(false, new JsonObject { ["id"] = Root, ["dotted_order"] = $"20260820T100000000000Z{Root}" }, "");
        var ids = RunMapper.ReadIdentity(op, [])!;
        Assert.True(ids.IsRoot);
        Assert.Equal(Root, ids.TraceId);
        Assert.Null(ids.ParentId);
    }

    [Theory]
    [InlineData("20260820T100000000000Z" + Root + ".20260820T100000000000Z" + Root, "dotted_order")] // does not end with the run's id
    [InlineData("not-a-dotted-order", "dotted_order")]
    [InlineData("20260820T100000000000Z" + Child, "trace_id")] // trace_id says another trace
    public void DottedOrder_Inconsistent_IsRefusedNamingTheField(string dotted, string field)
    {
        var run = new JsonObject { ["id"] = Child, ["trace_id"] = Root, ["dotted_order"] = dotted };
        if (field == "trace_id")
        {
            run["id"] = Child;
        }

        var errors = new List<FieldError>();
        Assert.Null(RunMapper.ReadIdentity(new RunOperation(false, run, "post[3]"), errors));
        Assert.Contains(errors, e => e.Field == "post[3]." + field);
    }

    [Fact]
    public void ParentMismatch_WithDottedOrder_IsRefused()
    {
        var other = Guid.NewGuid().ToString();
        var run = new JsonObject { ["id"] = Child, ["parent_run_id"] = other, ["dotted_order"] = $"20260820T100000000000Z{Root}.20260820T100000120000Z{Child}" };
        var errors = new List<FieldError>();
        Assert.Null(RunMapper.ReadIdentity(new RunOperation(false, run, ""), errors));
        Assert.Contains(errors, e => e.Field == "parent_run_id");
    }

    [Fact]
    public void OpenAiLlmRun_BecomesChatMessages_ModelProviderTokensCost()
    {
        var (r, errors) = Map("""
            {"id":"@CHILD@","trace_id":"@ROOT@","parent_run_id":"@ROOT@","name":"ChatOpenAI","run_type":"llm",
             "start_time":"2026-08-20T10:00:00.120000+00:00","end_time":"2026-08-20T10:00:01.120000+00:00","session_name":"support-bot",
             "inputs":{"messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Hi"}],"temperature":0.2},
             "outputs":{"choices":[{"message":{"role":"assistant","content":"Hello!","tool_calls":[{"id":"c1","type":"function","function":{"name":"lookup","arguments":"{\"q\":1}"}}]}}],
                        "usage_metadata":{"input_tokens":27,"output_tokens":13,"total_tokens":40,"input_cost":0.001,"output_cost":0.002}},
             "extra":{"metadata":{"ls_provider":"openai","ls_model_name":"gpt-4o","thread_id":"th-1","user_id":"u-9"}}}
            """);

        Assert.Empty(errors);
        Assert.Equal(SpanKind.Llm, r.Kind);
        Assert.Equal(Root, r.ParentKey);
        Assert.True(r.RejectIfExists);
        var messages = Json(r.Input).GetProperty("messages");
        Assert.Equal("system", messages[0].GetProperty("role").GetString());
        Assert.Equal("Hi", messages[1].GetProperty("content").GetString());
        var output = Json(r.Output);
        Assert.Equal("Hello!", output.GetProperty("content").GetString());
        Assert.Equal("lookup", output.GetProperty("tool_calls")[0].GetProperty("function").GetProperty("name").GetString());
        Assert.Equal(("gpt-4o", "openai"), (r.Model, r.Provider));
        Assert.Equal((27, 13), (r.PromptTokens, r.CompletionTokens));
        Assert.Equal(0.003m, r.Cost);
        Assert.Equal("th-1", r.Trace!.SessionId);
        Assert.Equal("u-9", r.Trace.UserId);
        Assert.Contains("project:support-bot", r.Trace.Tags!);
        var attributes = Json(r.Attributes);
        Assert.Equal(0.2, attributes.GetProperty("invocation").GetProperty("temperature").GetDouble());
        Assert.Equal(40, attributes.GetProperty("usage_metadata").GetProperty("total_tokens").GetInt32());
    }

    [Fact]
    public void AnthropicLlmRun_SystemToolUseAndToolResult_BecomeOpenAiMessages()
    {
        var (r, _) = Map("""
            {"id":"@CHILD@","trace_id":"@ROOT@","parent_run_id":"@ROOT@","name":"claude","run_type":"llm","start_time":"2026-08-20T10:00:00Z",
             "inputs":{"system":"Be brief.","messages":[
                {"role":"user","content":[{"type":"text","text":"Weather in Paris?"}]},
                {"role":"assistant","content":[{"type":"text","text":"Checking."},{"type":"tool_use","id":"tu1","name":"weather","input":{"city":"Paris"}}]},
                {"role":"user","content":[{"type":"tool_result","tool_use_id":"tu1","content":"18C"}]}]},
             "outputs":{"id":"msg_1","type":"message","role":"assistant","content":[{"type":"text","text":"18C and sunny."}],
                        "usage":{"input_tokens":50,"output_tokens":7}},
             "extra":{"metadata":{"ls_provider":"anthropic","ls_model_name":"claude-sonnet-4"}}}
            """);

        var messages = Json(r.Input).GetProperty("messages").EnumerateArray().ToList();
        Assert.Equal(["system", "user", "assistant", "tool"], messages.Select(m => m.GetProperty("role").GetString()!).ToArray());
        Assert.Equal("Weather in Paris?", messages[1].GetProperty("content").GetString());
        var call = messages[2].GetProperty("tool_calls")[0];
        Assert.Equal("tu1", call.GetProperty("id").GetString());
        Assert.Equal("{\"city\":\"Paris\"}", call.GetProperty("function").GetProperty("arguments").GetString());
        Assert.Equal("tu1", messages[3].GetProperty("tool_call_id").GetString());
        Assert.Equal("18C", messages[3].GetProperty("content").GetString());
        Assert.Equal("18C and sunny.", Json(r.Output).GetProperty("content").GetString());
        Assert.Equal((50, 7), (r.PromptTokens, r.CompletionTokens));
        Assert.Equal("anthropic", r.Provider);
    }

    [Fact]
    public void LangChainLlmRun_SerializedMessages_Generations_ToolCallBlocks()
    {
        var (r, _) = Map("""
            {"id":"@CHILD@","trace_id":"@ROOT@","parent_run_id":"@ROOT@","name":"ChatOpenAI","run_type":"llm","start_time":"2026-08-20T10:00:00Z",
             "inputs":{"messages":[[
                {"lc":1,"type":"constructor","id":["langchain","schema","messages","SystemMessage"],"kwargs":{"content":"You help.","type":"system"}},
                {"lc":1,"type":"constructor","id":["langchain","schema","messages","HumanMessage"],"kwargs":{"content":"Order 42?","type":"human"}},
                {"type":"ai","content":[{"type":"tool_call","name":"get_order","args":{"id":42},"id":"call_9"}]},
                {"type":"tool","content":"shipped","tool_call_id":"call_9"}]]},
             "outputs":{"generations":[[{"text":"It shipped.","type":"ChatGeneration","message":
                {"lc":1,"type":"constructor","id":["langchain","schema","messages","AIMessage"],
                 "kwargs":{"content":"It shipped.","type":"ai","tool_calls":[],"usage_metadata":{"input_tokens":30,"output_tokens":4,"total_tokens":34}}}}]],
                "llm_output":{"model_name":"gpt-4o-mini"}},
             "extra":{"invocation_params":{"model":"gpt-4o-mini"},"metadata":{"ls_provider":"openai"}},
             "events":[{"name":"start","time":"2026-08-20T10:00:00+00:00"},{"name":"new_token","time":"2026-08-20T10:00:00.350000+00:00","kwargs":{"token":"It"}}]}
            """);

        var messages = Json(r.Input).GetProperty("messages").EnumerateArray().ToList();
        Assert.Equal(["system", "user", "assistant", "tool"], messages.Select(m => m.GetProperty("role").GetString()!).ToArray());
        Assert.Equal("Order 42?", messages[1].GetProperty("content").GetString());
        Assert.Equal("get_order", messages[2].GetProperty("tool_calls")[0].GetProperty("function").GetProperty("name").GetString());
        Assert.Equal("{\"id\":42}", messages[2].GetProperty("tool_calls")[0].GetProperty("function").GetProperty("arguments").GetString());
        Assert.Equal("call_9", messages[3].GetProperty("tool_call_id").GetString());
        var output = Json(r.Output);
        Assert.Equal("assistant", output.GetProperty("role").GetString());
        Assert.Equal("It shipped.", output.GetProperty("content").GetString());
        Assert.Equal("gpt-4o-mini", r.Model);
        Assert.Equal((30, 4), (r.PromptTokens, r.CompletionTokens));
        Assert.Equal(350, r.Trace!.TimeToFirstTokenMs);
    }

    [Fact]
    public void ToolRun_InputsAreArguments_OutputIsResult()
    {
        var (r, _) = Map("""
            {"id":"@CHILD@","trace_id":"@ROOT@","parent_run_id":"@ROOT@","name":"get_weather","run_type":"tool","start_time":"2026-08-20T10:00:00Z",
             "end_time":"2026-08-20T10:00:00.042Z","inputs":{"city":"Paris","unit":"C"},"outputs":{"output":"18C"},"error":null}
            """);

        Assert.Equal(SpanKind.Tool, r.Kind);
        Assert.Equal("Paris", Json(r.Input).GetProperty("city").GetString());
        Assert.Equal("18C", Json(r.Output).GetString());
        Assert.Null(r.Error);
        Assert.Equal(42, (r.EndedAt - r.StartedAt)!.Value.TotalMilliseconds);
    }

    [Theory]
    [InlineData("retriever", SpanKind.Retrieval)]
    [InlineData("chain", SpanKind.Chain)]
    [InlineData("prompt", SpanKind.Chain)]
    [InlineData("embedding", SpanKind.Other)]
    [InlineData("custom-thing", SpanKind.Other)]
    public void RunType_MapsToKind(string runType, SpanKind kind) => Assert.Equal(kind, RunMapper.Kind(runType));

    [Fact]
    public void UsageMetadata_InExtraMetadata_IsRead_AndTotalCostWins()
    {
        var (r, _) = Map("""
            {"id":"@ROOT@","name":"gen","run_type":"llm","start_time":"2026-08-20T10:00:00Z","outputs":{"output":"ok"},
             "extra":{"metadata":{"usage_metadata":{"input_tokens":5,"output_tokens":6,"input_cost":1,"output_cost":1,"total_cost":0.5}}}}
            """);

        Assert.Equal((5, 6), (r.PromptTokens, r.CompletionTokens));
        Assert.Equal(0.5m, r.Cost);
        Assert.Equal("ok", Json(r.Output).GetProperty("content").GetString());
    }

    [Fact]
    public void Patch_WithoutRunType_UsesTheKnownKind_AndOnlyCarriesWhatItSends()
    {
        var (r, _) = Map("""{"id":"@CHILD@","trace_id":"@ROOT@","outputs":{"messages":[{"role":"assistant","content":"Done."}]},"end_time":"2026-08-20T10:00:02Z"}""",
            patch: true, known: SpanKind.Llm);

        Assert.True(r.IsUpdate);
        Assert.False(r.RejectIfExists);
        Assert.Null(r.Kind);
        Assert.Null(r.Name);
        Assert.Null(r.StartedAt);
        Assert.Null(r.Input);
        Assert.Equal("Done.", Json(r.Output).GetProperty("content").GetString());
    }

    [Fact]
    public void RootRun_TagsAndMetadata_GoToTheTrace_ChildTagsStayOnTheSpan()
    {
        var (root, _) = Map("""{"id":"@ROOT@","name":"agent","run_type":"chain","start_time":"2026-08-20T10:00:00Z","tags":["beta"],"session_name":"bot","extra":{"metadata":{"revision_id":"v1.2","team":"eu"}}}""");
        var (child, _) = Map("""{"id":"@CHILD@","trace_id":"@ROOT@","parent_run_id":"@ROOT@","name":"step","run_type":"chain","start_time":"2026-08-20T10:00:00Z","tags":["seq:step:1"],"session_name":"bot"}""");

        Assert.Equal(["beta", "project:bot"], root.Trace!.Tags!.ToArray());
        Assert.Equal("v1.2", root.Trace.Release);
        var metadata = Json(root.Trace.Metadata);
        Assert.Equal("eu", metadata.GetProperty("team").GetString());
        Assert.Equal("bot", metadata.GetProperty("langsmith_project").GetString());
        Assert.Equal(["project:bot"], child.Trace!.Tags!.ToArray());
        Assert.Equal("seq:step:1", Json(child.Attributes).GetProperty("tags")[0].GetString());
    }

    [Fact]
    public void OpenAiCompletionAsOutputs_TheRestOfTheResponse_IsKeptInAttributes()
    {
        // What a traceable-wrapped OpenAI call returns (langsmith JS 0.12): the whole chat completion.
        var (r, errors) = Map("""
            {"id":"@CHILD@","trace_id":"@ROOT@","parent_run_id":"@ROOT@","name":"ChatOpenAI","run_type":"llm","start_time":"2026-08-20T10:00:00Z",
             "inputs":{"messages":[{"role":"user","content":"Hi"}]},
             "outputs":{"id":"chatcmpl-9","object":"chat.completion","model":"gpt-4o-mini-2024-07-18","system_fingerprint":null,
                        "choices":[{"index":0,"message":{"role":"assistant","content":"Hello!"},"finish_reason":"stop"}],
                        "usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11}}}
            """);

        Assert.Empty(errors);
        Assert.Equal("Hello!", Json(r.Output).GetProperty("content").GetString());
        Assert.Equal((9, 2), (r.PromptTokens, r.CompletionTokens));
        var response = Json(r.Attributes).GetProperty("response");
        Assert.Equal("chatcmpl-9", response.GetProperty("id").GetString());
        Assert.Equal("gpt-4o-mini-2024-07-18", response.GetProperty("model").GetString());
        Assert.Equal("stop", response.GetProperty("finish_reason").GetString());
        Assert.Equal(["id", "object", "model", "finish_reason"], response.EnumerateObject().Select(p => p.Name).ToArray());
    }

    [Fact]
    public void OutputsThatAreTheMessage_OrKeptAsSent_AddNoResponseAttribute()
    {
        var (message, _) = Map("""
            {"id":"@ROOT@","name":"llm","run_type":"llm","start_time":"2026-08-20T10:00:00Z","outputs":{"role":"assistant","content":"Hi"}}
            """);
        var (unknown, _) = Map("""
            {"id":"@ROOT@","name":"llm","run_type":"llm","start_time":"2026-08-20T10:00:00Z","outputs":{"answer":42}}
            """);

        Assert.Equal("Hi", Json(message.Output).GetProperty("content").GetString());
        Assert.False(Json(message.Attributes).TryGetProperty("response", out _));
        Assert.Equal(42, Json(unknown.Output).GetProperty("answer").GetInt32());
        Assert.False(Json(unknown.Attributes).TryGetProperty("response", out _));
    }

    [Fact]
    public void JsSdkEmptyBookkeeping_ChildRunsAndSerialized_StaysOffTheSpan()
    {
        // RunTree (langsmith JS 0.12) sends "child_runs": [] and "serialized": {} with every run.
        var (r, errors) = Map("""
            {"id":"@ROOT@","name":"agent","run_type":"chain","start_time":"2026-08-20T10:00:00Z","child_runs":[],"serialized":{},
             "extra":{"runtime":{"sdk":"langsmith-js","sdk_version":"0.12.0"}},"dotted_order":"20260820T100000000001Z@ROOT@"}
            """);

        Assert.Empty(errors);
        var a = Json(r.Attributes);
        Assert.False(a.TryGetProperty("child_runs", out _));
        Assert.False(a.TryGetProperty("serialized", out _));
        Assert.Equal("langsmith-js", a.GetProperty("extra").GetProperty("runtime").GetProperty("sdk").GetString());
        Assert.True(a.TryGetProperty("dotted_order", out _));
    }

    [Fact]
    public void UnmappedFieldsAndAttachments_AreKeptInAttributes()
    {
        var op = new RunOperation(false, JsonNode.Parse(Fill("""
            {"id":"@ROOT@","name":"r","run_type":"chain","start_time":"2026-08-20T10:00:00Z","reference_example_id":"ex-1",
             "serialized":{"name":"RunnableSequence"}}
            """))!.AsObject(), "");
        op.Attachments.Add(new RunAttachment("photo", "image/png", 3, [1, 2, 3]));
        op.Attachments.Add(new RunAttachment("video", "video/mp4", 10_000_000, null));
        var errors = new List<FieldError>();

        var r = RunMapper.Map(op, RunMapper.ReadIdentity(op, errors)!, Root, null, errors);

        var a = Json(r.Attributes);
        Assert.Equal("ex-1", a.GetProperty("reference_example_id").GetString());
        Assert.Equal("RunnableSequence", a.GetProperty("serialized").GetProperty("name").GetString());
        Assert.Equal("AQID", a.GetProperty("attachment.photo").GetProperty("data_base64").GetString());
        var video = a.GetProperty("attachment.video");
        Assert.Equal(10_000_000, video.GetProperty("size").GetInt64());
        Assert.False(video.GetProperty("stored").GetBoolean());
        Assert.Equal("video/mp4", video.GetProperty("content_type").GetString());
    }

    [Fact]
    public void HugeSerialized_IsReplacedByItsSize_SoTheRunStillFits()
    {
        var big = new string('x', 400_000);
        var (r, errors) = Map("""{"id":"@ROOT@","name":"r","run_type":"chain","start_time":"2026-08-20T10:00:00Z","serialized":{"blob":"@BIG@"}}""".Replace("@BIG@", big, StringComparison.Ordinal));
        Assert.True(TraceAssembler.Validate(r, errors), string.Join("; ", errors));
        Assert.True(Json(r.Attributes).GetProperty("serialized").GetProperty("omitted").GetBoolean());
    }

    [Fact]
    public void ManySmallAttachments_OverTheLimit_LoseTheirBytesButNeverTheirRecord()
    {
        var op = new RunOperation(false, JsonNode.Parse(Fill("""{"id":"@ROOT@","name":"r","run_type":"chain","start_time":"2026-08-20T10:00:00Z"}"""))!.AsObject(), "");
        for (var i = 0; i < 10; i++)
        {
            op.Attachments.Add(new RunAttachment($"page{i}", "application/pdf", 32 * 1024, new byte[32 * 1024]));
        }

        var errors = new List<FieldError>();
        var r = RunMapper.Map(op, RunMapper.ReadIdentity(op, errors)!, Root, null, errors);

        Assert.True(TraceAssembler.Validate(r, errors), string.Join("; ", errors));
        var a = Json(r.Attributes);
        var pages = Enumerable.Range(0, 10).Select(i => a.GetProperty($"attachment.page{i}")).ToList();
        Assert.All(pages, p => Assert.Equal(32 * 1024, p.GetProperty("size").GetInt32()));
        Assert.Contains(pages, p => !p.GetProperty("stored").GetBoolean());
        Assert.Contains(pages, p => p.GetProperty("stored").GetBoolean());
    }

    [Fact]
    public void BadTimesAndTypes_AreReportedByField()
    {
        var (_, errors) = Map("""{"id":"@ROOT@","name":"r","run_type":"chain","start_time":"yesterday","extra":[1]}""");
        Assert.Contains(errors, e => e.Field == "post[0].start_time");
        Assert.Contains(errors, e => e.Field == "post[0].extra");
    }

    [Fact]
    public void JsSdkEpochMilliseconds_AreAccepted()
    {
        var (r, errors) = Map("""{"id":"@ROOT@","name":"r","run_type":"chain","start_time":1787220000000}""");
        Assert.Empty(errors);
        Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(1787220000000), r.StartedAt);
    }
}
