using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace EvalPlatform.Core.Otlp;

/// <summary>
/// Writes the protobuf wire format of OTLP trace messages: the <c>ExportTraceServiceResponse</c>
/// the endpoint answers with, and an <c>ExportTraceServiceRequest</c> from the model (for tests,
/// the benchmark and tools that need a real request body without an exporter).
/// </summary>
public static class OtlpProtobufWriter
{
    /// <summary>
    /// An <c>ExportTraceServiceResponse</c>: empty on full success; otherwise <c>partial_success</c>
    /// (field 1) with <c>rejected_spans</c> (1, int64) and <c>error_message</c> (2, string).
    /// </summary>
    public static byte[] WriteExportResponse(long rejectedSpans, string? errorMessage)
    {
        if (rejectedSpans == 0 && string.IsNullOrEmpty(errorMessage))
        {
            return [];
        }

        var partial = new ArrayBufferWriter<byte>();
        if (rejectedSpans != 0)
        {
            Tag(partial, 1, 0);
            Varint(partial, (ulong)rejectedSpans);
        }

        String(partial, 2, errorMessage);
        var response = new ArrayBufferWriter<byte>();
        Message(response, 1, partial);
        return response.WrittenSpan.ToArray();
    }

    /// <summary>An <c>ExportTraceServiceRequest</c> holding <paramref name="request"/>'s spans (ids must be well formed).</summary>
    public static byte[] WriteExportRequest(OtlpExportRequest request)
    {
        var body = new ArrayBufferWriter<byte>();
        foreach (var resourceSpans in request.ResourceSpans)
        {
            var rs = new ArrayBufferWriter<byte>();
            var resource = new ArrayBufferWriter<byte>();
            Attributes(resource, 1, resourceSpans.ResourceAttributes);
            Message(rs, 1, resource);
            foreach (var scopeSpans in resourceSpans.ScopeSpans)
            {
                var ss = new ArrayBufferWriter<byte>();
                var scope = new ArrayBufferWriter<byte>();
                String(scope, 1, scopeSpans.ScopeName);
                String(scope, 2, scopeSpans.ScopeVersion);
                Attributes(scope, 3, scopeSpans.ScopeAttributes);
                Message(ss, 1, scope);
                foreach (var span in scopeSpans.Spans)
                {
                    Message(ss, 2, Span(span));
                }

                Message(rs, 2, ss);
            }

            Message(body, 1, rs);
        }

        return body.WrittenSpan.ToArray();
    }

    private static ArrayBufferWriter<byte> Span(OtlpSpan span)
    {
        var w = new ArrayBufferWriter<byte>();
        Id(w, 1, span.TraceId);
        Id(w, 2, span.SpanId);
        String(w, 3, span.TraceState);
        Id(w, 4, span.ParentSpanId);
        String(w, 5, span.Name);
        if (span.Kind != 0)
        {
            Tag(w, 6, 0);
            Varint(w, (ulong)span.Kind);
        }

        Fixed64(w, 7, span.StartTimeUnixNano);
        Fixed64(w, 8, span.EndTimeUnixNano);
        Attributes(w, 9, span.Attributes);
        foreach (var ev in span.Events)
        {
            var e = new ArrayBufferWriter<byte>();
            Fixed64(e, 1, ev.TimeUnixNano);
            String(e, 2, ev.Name);
            Attributes(e, 3, ev.Attributes);
            Message(w, 11, e);
        }

        foreach (var link in span.Links)
        {
            var l = new ArrayBufferWriter<byte>();
            Id(l, 1, link.TraceId);
            Id(l, 2, link.SpanId);
            String(l, 3, link.TraceState);
            Attributes(l, 4, link.Attributes);
            Message(w, 13, l);
        }

        if (span.StatusCode != 0 || span.StatusMessage is not null)
        {
            var s = new ArrayBufferWriter<byte>();
            String(s, 2, span.StatusMessage);
            if (span.StatusCode != 0)
            {
                Tag(s, 3, 0);
                Varint(s, (ulong)span.StatusCode);
            }

            Message(w, 15, s);
        }

        return w;
    }

    private static void Attributes(ArrayBufferWriter<byte> w, int field, IEnumerable<OtlpAttribute> attributes)
    {
        foreach (var attribute in attributes)
        {
            Message(w, field, KeyValue(attribute));
        }
    }

    private static ArrayBufferWriter<byte> KeyValue(OtlpAttribute attribute)
    {
        var kv = new ArrayBufferWriter<byte>();
        String(kv, 1, attribute.Key);
        Message(kv, 2, AnyValue(attribute.Value));
        return kv;
    }

    private static ArrayBufferWriter<byte> AnyValue(object? value)
    {
        var w = new ArrayBufferWriter<byte>();
        switch (value)
        {
            case string s:
                Tag(w, 1, 2);
                Bytes(w, Encoding.UTF8.GetBytes(s));
                break;
            case bool b:
                Tag(w, 2, 0);
                Varint(w, b ? 1UL : 0UL);
                break;
            case long or int:
                Tag(w, 3, 0);
                Varint(w, (ulong)Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture));
                break;
            case double d:
                Tag(w, 4, 1);
                BinaryPrimitives.WriteUInt64LittleEndian(w.GetSpan(8), BitConverter.DoubleToUInt64Bits(d));
                w.Advance(8);
                break;
            case OtlpValue[] array:
                var a = new ArrayBufferWriter<byte>();
                foreach (var item in array)
                {
                    Message(a, 1, AnyValue(item.Value));
                }

                Message(w, 5, a);
                break;
            case OtlpAttribute[] pairs:
                var list = new ArrayBufferWriter<byte>();
                Attributes(list, 1, pairs);
                Message(w, 6, list);
                break;
            case byte[] bytes:
                Tag(w, 7, 2);
                Bytes(w, bytes);
                break;
        }

        return w;
    }

    private static void Id(ArrayBufferWriter<byte> w, int field, OtlpId id)
    {
        if (id.Hex is { } hex)
        {
            Tag(w, field, 2);
            Bytes(w, Convert.FromHexString(hex));
        }
    }

    private static void String(ArrayBufferWriter<byte> w, int field, string? value)
    {
        if (!string.IsNullOrEmpty(value))
        {
            Tag(w, field, 2);
            Bytes(w, Encoding.UTF8.GetBytes(value));
        }
    }

    private static void Fixed64(ArrayBufferWriter<byte> w, int field, ulong value)
    {
        if (value != 0)
        {
            Tag(w, field, 1);
            BinaryPrimitives.WriteUInt64LittleEndian(w.GetSpan(8), value);
            w.Advance(8);
        }
    }

    private static void Message(ArrayBufferWriter<byte> w, int field, ArrayBufferWriter<byte> message)
    {
        Tag(w, field, 2);
        Bytes(w, message.WrittenSpan);
    }

    private static void Bytes(ArrayBufferWriter<byte> w, ReadOnlySpan<byte> bytes)
    {
        Varint(w, (ulong)bytes.Length);
        w.Write(bytes);
    }

    private static void Tag(ArrayBufferWriter<byte> w, int field, int wire) => Varint(w, ((ulong)field << 3) | (uint)wire);

    private static void Varint(ArrayBufferWriter<byte> w, ulong value)
    {
        var span = w.GetSpan(10);
        var i = 0;
        while (value >= 0x80)
        {
            span[i++] = (byte)(value | 0x80);
            value >>= 7;
        }

        span[i++] = (byte)value;
        w.Advance(i);
    }
}
