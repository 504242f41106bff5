using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using EvalPlatform.Core.Otlp;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace EvalPlatform.Tests.Unit.Otlp;

public sealed class OtlpProtobufTests
{
    /// <summary>Bodies the official OpenTelemetry .NET exporter would have sent, captured by its HttpClient.</summary>
    private sealed class CapturingHandler : HttpMessageHandler
    {
        public List<byte[]> Bodies { get; } = [];

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Bodies.Add(await request.Content!.ReadAsByteArrayAsync(cancellationToken));
            return new HttpResponseMessage(HttpStatusCode.OK) { Content = new ByteArrayContent([]) };
        }

        // The exporter sends synchronously (HttpClient.Send) on .NET.
        protected override HttpResponseMessage Send(HttpRequestMessage request, CancellationToken cancellationToken) =>
            SendAsync(request, cancellationToken).GetAwaiter().GetResult();
    }

    private static (byte[] Body, Activity Chat, Activity Tool) ExportWithTheRealExporter()
    {
        var sourceName = "EvalPlatform.Tests.Capture." + Guid.NewGuid().ToString("N");
        var handler = new CapturingHandler();
        using var source = new ActivitySource(sourceName);
        Activity chat;
        Activity tool;
        using (var provider = Sdk.CreateTracerProviderBuilder()
                   .SetResourceBuilder(ResourceBuilder.CreateEmpty().AddService("capture-test", serviceVersion: "9.9"))
                   .AddSource(sourceName)
                   .AddOtlpExporter(o =>
                   {
                       o.Endpoint = new Uri("http://capture.invalid/v1/traces");
                       o.Protocol = OtlpExportProtocol.HttpProtobuf;
                       o.ExportProcessorType = ExportProcessorType.Batch;
                       o.HttpClientFactory = () => new HttpClient(handler);
                   })
                   .Build())
        {
            chat = source.StartActivity("chat gpt-4o", ActivityKind.Client)!;
            chat.SetTag("gen_ai.operation.name", "chat");
            chat.SetTag("gen_ai.usage.input_tokens", 812);
            chat.SetTag("gen_ai.request.temperature", 0.25);
            chat.SetTag("stream", false);
            chat.SetTag("gen_ai.request.stop_sequences", new[] { "END", "STOP" });
            chat.AddEvent(new ActivityEvent("gen_ai.user.message", tags: new ActivityTagsCollection { { "content", "héllo ✓" } }));
            tool = source.StartActivity("execute_tool lookup_order", ActivityKind.Internal)!;
            tool.SetTag("gen_ai.tool.name", "lookup_order");
            tool.Stop();
            chat.SetStatus(ActivityStatusCode.Error, "boom");
            chat.Stop();
            provider.ForceFlush();
        }

        return (Assert.Single(handler.Bodies), chat, tool);
    }

    [Fact]
    public void RealExporterBytes_DecodeToTheActivities()
    {
        var (body, chat, tool) = ExportWithTheRealExporter();

        var request = OtlpProtobuf.ReadExportRequest(body);

        var resource = Assert.Single(request.ResourceSpans);
        Assert.Contains(resource.ResourceAttributes, a => a.Key == "service.name" && (string?)a.Value == "capture-test");
        var scope = Assert.Single(resource.ScopeSpans);
        Assert.Equal(chat.Source.Name, scope.ScopeName);
        var spans = scope.Spans.ToDictionary(s => s.Name);
        var c = spans["chat gpt-4o"];
        Assert.Equal(chat.TraceId.ToHexString(), c.TraceId.Hex);
        Assert.Equal(chat.SpanId.ToHexString(), c.SpanId.Hex);
        Assert.True(c.ParentSpanId.IsEmpty);
        Assert.Equal(3, c.Kind);
        Assert.Equal((ulong)(chat.StartTimeUtc - DateTime.UnixEpoch).Ticks * 100, c.StartTimeUnixNano);
        Assert.Equal((ulong)(chat.StartTimeUtc + chat.Duration - DateTime.UnixEpoch).Ticks * 100, c.EndTimeUnixNano);
        Assert.Equal((2, "boom"), (c.StatusCode, c.StatusMessage));
        var attributes = c.Attributes.ToDictionary(a => a.Key, a => a.Value);
        Assert.Equal("chat", attributes["gen_ai.operation.name"]);
        Assert.Equal(812L, attributes["gen_ai.usage.input_tokens"]);
        Assert.Equal(0.25, attributes["gen_ai.request.temperature"]);
        Assert.Equal(false, attributes["stream"]);
        Assert.Equal(["END", "STOP"], ((OtlpValue[])attributes["gen_ai.request.stop_sequences"]!).Select(v => (string)v.Value!).ToArray());
        var ev = Assert.Single(c.Events);
        Assert.Equal("gen_ai.user.message", ev.Name);
        Assert.Equal("héllo ✓", ev.Attributes.Single(a => a.Key == "content").Value);

        var t = spans["execute_tool lookup_order"];
        Assert.Equal(chat.SpanId.ToHexString(), t.ParentSpanId.Hex);
        Assert.Equal(tool.SpanId.ToHexString(), t.SpanId.Hex);
        Assert.Equal(1, t.Kind);

        // What we write, we read back the same.
        var again = OtlpProtobuf.ReadExportRequest(OtlpProtobufWriter.WriteExportRequest(request));
        Assert.Equal(Describe(request), Describe(again));
    }

    [Fact]
    public void HandBuilt_AllValueTypes_RoundTrip()
    {
        var request = Sample();

        var read = OtlpProtobuf.ReadExportRequest(OtlpProtobufWriter.WriteExportRequest(request));

        Assert.Equal(Describe(request), Describe(read));
        var span = read.ResourceSpans[0].ScopeSpans[0].Spans[0];
        Assert.Equal(-5L, span.Attributes.Single(a => a.Key == "negative").Value);
        var list = (OtlpAttribute[])span.Attributes.Single(a => a.Key == "kv").Value!;
        Assert.Equal("inner", list[0].Key);
    }

    [Fact]
    public void UnknownFields_OfEveryWireType_AreSkipped()
    {
        var span = Concat(
            Len(1, Enumerable.Range(1, 16).Select(i => (byte)i).ToArray()),
            Len(2, [1, 2, 3, 4, 5, 6, 7, 8]),
            Tag(40, 0), [0x96, 0x01],                  // varint 150
            Tag(41, 1), new byte[8],                   // fixed64
            Tag(42, 5), new byte[4],                   // fixed32
            Len(43, Encoding.UTF8.GetBytes("future")), // length-delimited
            Len(5, Encoding.UTF8.GetBytes("named")));
        var body = Len(1, Concat(Tag(77, 0), [1], Len(2, Len(2, span))));

        var read = Assert.Single(Assert.Single(OtlpProtobuf.ReadExportRequest(body).ResourceSpans).ScopeSpans[0].Spans);

        Assert.Equal("named", read.Name);
        Assert.Equal("0102030405060708090a0b0c0d0e0f10", read.TraceId.Hex);
        Assert.Equal("0102030405060708", read.SpanId.Hex);
    }

    [Fact]
    public void Truncated_Body_NamesWhereItBroke()
    {
        var body = OtlpProtobufWriter.WriteExportRequest(Sample());

        var e = Assert.Throws<OtlpFormatException>(() => OtlpProtobuf.ReadExportRequest(body.AsSpan(0, body.Length - 3)));

        Assert.StartsWith("resourceSpans", e.Path, StringComparison.Ordinal);
        Assert.Contains("Truncated", e.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void WrongWireType_ForAKnownField_IsRefused()
    {
        var span = Concat(Tag(1, 0), [0x05]); // trace_id as a varint
        var body = Len(1, Len(2, Len(2, span)));

        var e = Assert.Throws<OtlpFormatException>(() => OtlpProtobuf.ReadExportRequest(body));

        Assert.Equal("resourceSpans[0].scopeSpans[0].spans[0].traceId", e.Path);
        Assert.Contains("wire type 0", e.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void AProblemDeepInside_IsNamedByItsWholePath()
    {
        var badString = Concat(Tag(1, 0), [0x01]); // stringValue as a varint
        var array = Len(5, Len(1, badString));     // arrayValue { values[0] }
        var inner = Concat(Len(1, "k"u8.ToArray()), Len(2, array));
        var kvlist = Len(6, Len(1, inner));        // kvlistValue { values[0] = { key, value } }
        var attribute = Concat(Len(1, "a"u8.ToArray()), Len(2, kvlist));
        var ev = Concat(Len(2, "e"u8.ToArray()), Len(3, Len(1, "ok"u8.ToArray())), Len(3, attribute));
        var span = Concat(Len(5, "s"u8.ToArray()), Len(11, Len(2, "first"u8.ToArray())), Len(11, ev));
        var body = Len(1, Len(2, Concat(Len(2, Len(5, "fine"u8.ToArray())), Len(2, span))));

        var e = Assert.Throws<OtlpFormatException>(() => OtlpProtobuf.ReadExportRequest(body));

        Assert.Equal("resourceSpans[0].scopeSpans[0].spans[1].events[1].attributes[1].value.kvlistValue.values[0].value.arrayValue.values[0].stringValue", e.Path);
        var status = Len(1, Len(2, Len(2, Len(15, Concat(Tag(3, 2), [0])))));
        Assert.Equal("resourceSpans[0].scopeSpans[0].spans[0].status.code", Assert.Throws<OtlpFormatException>(() => OtlpProtobuf.ReadExportRequest(status)).Path);
    }

    [Fact]
    public void JsonBody_SentAsProtobuf_IsRecognised()
    {
        var json = File.ReadAllBytes(OtlpFixtures.Path("genai-latest.json"));

        var e = Assert.Throws<OtlpFormatException>(() => OtlpProtobuf.ReadExportRequest(json));

        Assert.Contains("looks like JSON", e.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void GroupWireType_IsRefused_NotSkippedIntoAnEmptyExport()
    {
        var e = Assert.Throws<OtlpFormatException>(() => OtlpProtobuf.ReadExportRequest(Concat(Tag(9, 3), Tag(9, 4))));

        Assert.Contains("wire type 3", e.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Response_PartialSuccess_Encoding()
    {
        Assert.Empty(OtlpProtobufWriter.WriteExportResponse(0, null));
        Assert.Equal(Len(1, Concat(Tag(1, 0), [2], Len(2, "bad"u8.ToArray()))), OtlpProtobufWriter.WriteExportResponse(2, "bad"));
    }

    private static OtlpExportRequest Sample()
    {
        var span = new OtlpSpan
        {
            TraceId = OtlpId.FromText("4bf92f3577b34da6a3ce929d0e0e4736", 16),
            SpanId = OtlpId.FromText("00f067aa0ba902b7", 8),
            ParentSpanId = OtlpId.FromText("00f067aa0ba902b8", 8),
            TraceState = "k=v",
            Name = "chat",
            Kind = 3,
            StartTimeUnixNano = 1755684000000000001,
            EndTimeUnixNano = 1755684001000000002,
            StatusCode = 2,
            StatusMessage = "failed",
        };
        span.Attributes.AddRange([
            new OtlpAttribute("s", "text ✓"), new OtlpAttribute("i", 42L), new OtlpAttribute("negative", -5L), new OtlpAttribute("d", 0.5),
            new OtlpAttribute("b", true), new OtlpAttribute("bytes", new byte[] { 0, 255 }),
            new OtlpAttribute("arr", new[] { new OtlpValue("a"), new OtlpValue(1L) }),
            new OtlpAttribute("kv", new[] { new OtlpAttribute("inner", new[] { new OtlpValue(false) }) }),
        ]);
        var ev = new OtlpEvent { Name = "e", TimeUnixNano = 1755684000500000000 };
        ev.Attributes.Add(new OtlpAttribute("x", "y"));
        span.Events.Add(ev);
        var link = new OtlpLink { TraceId = OtlpId.FromText("4bf92f3577b34da6a3ce929d0e0e4737", 16), SpanId = OtlpId.FromText("00f067aa0ba902b9", 8) };
        span.Links.Add(link);
        var scope = new OtlpScopeSpans { ScopeName = "scope", ScopeVersion = "1.0" };
        scope.Spans.Add(span);
        var resource = new OtlpResourceSpans();
        resource.ResourceAttributes.Add(new OtlpAttribute("service.name", "svc"));
        resource.ScopeSpans.Add(scope);
        var request = new OtlpExportRequest();
        request.ResourceSpans.Add(resource);
        return request;
    }

    /// <summary>A readable dump of a request, for comparing two.</summary>
    private static string Describe(OtlpExportRequest request)
    {
        var text = new StringBuilder();
        foreach (var rs in request.ResourceSpans)
        {
            text.AppendLine("resource " + Values(rs.ResourceAttributes));
            foreach (var ss in rs.ScopeSpans)
            {
                text.AppendLine(CultureInfo.InvariantCulture, $"scope {ss.ScopeName} {ss.ScopeVersion}");
                foreach (var s in ss.Spans)
                {
                    text.AppendLine(CultureInfo.InvariantCulture, $"span {s.TraceId.Hex} {s.SpanId.Hex} {s.ParentSpanId.Hex} {s.TraceState} {s.Name} {s.Kind} {s.StartTimeUnixNano} {s.EndTimeUnixNano} {s.StatusCode} {s.StatusMessage} {Values(s.Attributes)}");
                    foreach (var e in s.Events)
                    {
                        text.AppendLine(CultureInfo.InvariantCulture, $"  event {e.Name} {e.TimeUnixNano} {Values(e.Attributes)}");
                    }

                    foreach (var l in s.Links)
                    {
                        text.AppendLine(CultureInfo.InvariantCulture, $"  link {l.TraceId.Hex} {l.SpanId.Hex} {Values(l.Attributes)}");
                    }
                }
            }
        }

        return text.ToString();

        static string Values(IEnumerable<OtlpAttribute> attributes) => OtlpValues.ToObject(attributes).ToJsonString();
    }

    private static byte[] Tag(int field, int wire) => Varint((ulong)((field << 3) | wire));

    private static byte[] Varint(ulong value)
    {
        var bytes = new List<byte>();
        while (value >= 0x80)
        {
            bytes.Add((byte)(value | 0x80));
            value >>= 7;
        }

        bytes.Add((byte)value);
        return [.. bytes];
    }

    private static byte[] Len(int field, byte[] payload) => Concat(Tag(field, 2), Varint((ulong)payload.Length), payload);

    private static byte[] Concat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();
}
