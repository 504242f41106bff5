using System.Buffers.Binary;
using System.Text;

namespace EvalPlatform.Core.Otlp;

/// <summary>
/// A hand-written reader and writer of the protobuf wire format for just the OTLP trace messages
/// (<c>opentelemetry/proto/collector/trace/v1/trace_service.proto</c> and the trace, resource and
/// common messages it uses). Unknown fields are skipped by their wire type, so newer exporters are
/// read; a truncated or malformed body throws <see cref="OtlpFormatException"/> naming where it
/// broke, and nothing of it is used. See ADR 9 for why this is not generated code.
/// </summary>
public static class OtlpProtobuf
{
    /// <summary>How deeply <c>AnyValue</c>s may nest (arrays of key-value lists of arrays…).</summary>
    public const int MaxValueDepth = 32;

    private const int WireVarint = 0;
    private const int WireFixed64 = 1;
    private const int WireLen = 2;
    private const int WireFixed32 = 5;

    /// <summary>Decodes an <c>ExportTraceServiceRequest</c>.</summary>
    public static OtlpExportRequest ReadExportRequest(ReadOnlySpan<byte> body)
    {
        if (body.Length > 0 && body[0] is (byte)'{' or (byte)'[')
        {
            // As a first byte, '{' is field 15 with the group wire type and '[' field 11 with wire
            // type 3: no OTLP message starts so. This is JSON sent with the protobuf content type.
            throw new OtlpFormatException("$", "The body looks like JSON, not protobuf: send OTLP/JSON as 'Content-Type: application/json'.");
        }

        var request = new OtlpExportRequest();
        var reader = new Reader(body);
        while (reader.Next(out var field, out var wire))
        {
            if (field == 1)
            {
                request.ResourceSpans.Add(Nested(ref reader, field, wire, "resourceSpans", request.ResourceSpans.Count, 0, static (m, _) => ReadResourceSpans(m)));
            }
            else
            {
                reader.Skip(wire);
            }
        }

        return request;
    }

    private static OtlpResourceSpans ReadResourceSpans(ReadOnlySpan<byte> message)
    {
        var result = new OtlpResourceSpans();
        var reader = new Reader(message);
        while (reader.Next(out var field, out var wire))
        {
            switch (field)
            {
                case 1:
                    Nested(ref reader, field, wire, "resource", -1, result.ResourceAttributes, ReadResource);
                    break;
                // 1000: the deprecated instrumentation_library_spans, laid out as ScopeSpans is.
                case 2 or 1000:
                    result.ScopeSpans.Add(Nested(ref reader, field, wire, "scopeSpans", result.ScopeSpans.Count, 0, static (m, _) => ReadScopeSpans(m)));
                    break;
                default:
                    reader.Skip(wire);
                    break;
            }
        }

        return result;
    }

    private static List<OtlpAttribute> ReadResource(ReadOnlySpan<byte> message, List<OtlpAttribute> attributes)
    {
        var reader = new Reader(message);
        while (reader.Next(out var field, out var wire))
        {
            if (field == 1)
            {
                ReadAttribute(ref reader, field, wire, attributes, "attributes");
            }
            else
            {
                reader.Skip(wire);
            }
        }

        return attributes;
    }

    private static OtlpScopeSpans ReadScopeSpans(ReadOnlySpan<byte> message)
    {
        var result = new OtlpScopeSpans();
        var reader = new Reader(message);
        while (reader.Next(out var field, out var wire))
        {
            switch (field)
            {
                case 1:
                    Nested(ref reader, field, wire, "scope", -1, result, ReadScope);
                    break;
                case 2:
                    result.Spans.Add(Nested(ref reader, field, wire, "spans", result.Spans.Count, 0, static (m, _) => ReadSpan(m)));
                    break;
                default:
                    reader.Skip(wire);
                    break;
            }
        }

        return result;
    }

    private static OtlpScopeSpans ReadScope(ReadOnlySpan<byte> message, OtlpScopeSpans result)
    {
        var reader = new Reader(message);
        while (reader.Next(out var field, out var wire))
        {
            switch (field)
            {
                case 1:
                    result.ScopeName = reader.String(field, wire, "name");
                    break;
                case 2:
                    result.ScopeVersion = reader.String(field, wire, "version");
                    break;
                case 3:
                    ReadAttribute(ref reader, field, wire, result.ScopeAttributes, "attributes");
                    break;
                default:
                    reader.Skip(wire);
                    break;
            }
        }

        return result;
    }

    private static OtlpSpan ReadSpan(ReadOnlySpan<byte> message)
    {
        var span = new OtlpSpan();
        var reader = new Reader(message);
        while (reader.Next(out var field, out var wire))
        {
            switch (field)
            {
                case 1:
                    span.TraceId = OtlpId.FromBytes(reader.Bytes(field, wire, "traceId"), 16);
                    break;
                case 2:
                    span.SpanId = OtlpId.FromBytes(reader.Bytes(field, wire, "spanId"), 8);
                    break;
                case 3:
                    span.TraceState = reader.String(field, wire, "traceState");
                    break;
                case 4:
                    span.ParentSpanId = OtlpId.FromBytes(reader.Bytes(field, wire, "parentSpanId"), 8);
                    break;
                case 5:
                    span.Name = reader.String(field, wire, "name");
                    break;
                case 6:
                    span.Kind = (int)reader.Varint(field, wire, "kind");
                    break;
                case 7:
                    span.StartTimeUnixNano = reader.Fixed64(field, wire, "startTimeUnixNano");
                    break;
                case 8:
                    span.EndTimeUnixNano = reader.Fixed64(field, wire, "endTimeUnixNano");
                    break;
                case 9:
                    ReadAttribute(ref reader, field, wire, span.Attributes, "attributes");
                    break;
                case 11:
                    span.Events.Add(Nested(ref reader, field, wire, "events", span.Events.Count, 0, static (m, _) => ReadEvent(m)));
                    break;
                case 13:
                    span.Links.Add(Nested(ref reader, field, wire, "links", span.Links.Count, 0, static (m, _) => ReadLink(m)));
                    break;
                case 15:
                    Nested(ref reader, field, wire, "status", -1, span, ReadStatus);
                    break;
                default:
                    reader.Skip(wire);
                    break;
            }
        }

        return span;
    }

    private static OtlpEvent ReadEvent(ReadOnlySpan<byte> message)
    {
        var result = new OtlpEvent();
        var reader = new Reader(message);
        while (reader.Next(out var field, out var wire))
        {
            switch (field)
            {
                case 1:
                    result.TimeUnixNano = reader.Fixed64(field, wire, "timeUnixNano");
                    break;
                case 2:
                    result.Name = reader.String(field, wire, "name");
                    break;
                case 3:
                    ReadAttribute(ref reader, field, wire, result.Attributes, "attributes");
                    break;
                default:
                    reader.Skip(wire);
                    break;
            }
        }

        return result;
    }

    private static OtlpLink ReadLink(ReadOnlySpan<byte> message)
    {
        var result = new OtlpLink();
        var reader = new Reader(message);
        while (reader.Next(out var field, out var wire))
        {
            switch (field)
            {
                case 1:
                    result.TraceId = OtlpId.FromBytes(reader.Bytes(field, wire, "traceId"), 16);
                    break;
                case 2:
                    result.SpanId = OtlpId.FromBytes(reader.Bytes(field, wire, "spanId"), 8);
                    break;
                case 3:
                    result.TraceState = reader.String(field, wire, "traceState");
                    break;
                case 4:
                    ReadAttribute(ref reader, field, wire, result.Attributes, "attributes");
                    break;
                default:
                    reader.Skip(wire);
                    break;
            }
        }

        return result;
    }

    private static OtlpSpan ReadStatus(ReadOnlySpan<byte> message, OtlpSpan span)
    {
        var reader = new Reader(message);
        while (reader.Next(out var field, out var wire))
        {
            switch (field)
            {
                case 2:
                    span.StatusMessage = reader.String(field, wire, "message");
                    break;
                case 3:
                    span.StatusCode = (int)reader.Varint(field, wire, "code");
                    break;
                default:
                    reader.Skip(wire);
                    break;
            }
        }

        return span;
    }

    private static void ReadAttribute(ref Reader reader, int field, int wire, List<OtlpAttribute> into, string name) =>
        into.Add(Nested(ref reader, field, wire, name, into.Count, 0, ReadKeyValue));

    private static OtlpAttribute ReadKeyValue(ReadOnlySpan<byte> message, int depth)
    {
        var reader = new Reader(message);
        var key = "";
        object? value = null;
        while (reader.Next(out var field, out var wire))
        {
            switch (field)
            {
                case 1:
                    key = reader.String(field, wire, "key");
                    break;
                case 2:
                    value = Nested(ref reader, field, wire, "value", -1, depth, ReadAnyValue);
                    break;
                default:
                    reader.Skip(wire);
                    break;
            }
        }

        return new OtlpAttribute(key, value);
    }

    private static object? ReadAnyValue(ReadOnlySpan<byte> message, int depth)
    {
        if (depth > MaxValueDepth)
        {
            throw new OtlpFormatException("", $"Values nested deeper than {MaxValueDepth} levels.");
        }

        var reader = new Reader(message);
        object? value = null;
        while (reader.Next(out var field, out var wire))
        {
            switch (field)
            {
                case 1:
                    value = reader.String(field, wire, "stringValue");
                    break;
                case 2:
                    value = reader.Varint(field, wire, "boolValue") != 0;
                    break;
                case 3:
                    value = (long)reader.Varint(field, wire, "intValue");
                    break;
                case 4:
                    value = BitConverter.UInt64BitsToDouble(reader.Fixed64(field, wire, "doubleValue"));
                    break;
                case 5:
                    value = Nested(ref reader, field, wire, "arrayValue", -1, depth + 1, ReadArray);
                    break;
                case 6:
                    value = Nested(ref reader, field, wire, "kvlistValue", -1, depth + 1, ReadKeyValueList);
                    break;
                case 7:
                    value = reader.Bytes(field, wire, "bytesValue").ToArray();
                    break;
                default:
                    reader.Skip(wire);
                    break;
            }
        }

        return value;
    }

    private static OtlpValue[] ReadArray(ReadOnlySpan<byte> message, int depth)
    {
        var items = new List<OtlpValue>();
        var reader = new Reader(message);
        while (reader.Next(out var field, out var wire))
        {
            if (field == 1)
            {
                items.Add(new OtlpValue(Nested(ref reader, field, wire, "values", items.Count, depth, ReadAnyValue)));
            }
            else
            {
                reader.Skip(wire);
            }
        }

        return items.ToArray();
    }

    private static OtlpAttribute[] ReadKeyValueList(ReadOnlySpan<byte> message, int depth)
    {
        var pairs = new List<OtlpAttribute>();
        var reader = new Reader(message);
        while (reader.Next(out var field, out var wire))
        {
            if (field == 1)
            {
                pairs.Add(Nested(ref reader, field, wire, "values", pairs.Count, depth, ReadKeyValue));
            }
            else
            {
                reader.Skip(wire);
            }
        }

        return pairs.ToArray();
    }

    /// <summary>Decodes one nested message; the state is what it needs (a nesting depth, or the object it fills).</summary>
    private delegate T Decode<in TState, out T>(ReadOnlySpan<byte> message, TState state);

    /// <summary>
    /// Reads field <paramref name="name"/> as a nested message and decodes it. A problem inside it is
    /// reported under the field's path: <c>name</c>, or <c>name[index]</c> for a repeated field (index ≥ 0).
    /// </summary>
    private static T Nested<TState, T>(ref Reader reader, int field, int wire, string name, int index, TState state, Decode<TState, T> decode)
    {
        var message = reader.Bytes(field, wire, name);
        try
        {
            return decode(message, state);
        }
        catch (OtlpFormatException e)
        {
            throw e.Within(index < 0 ? name : $"{name}[{index}]");
        }
    }

    /// <summary>A cursor over one message's bytes; every read checks the wire type and the bounds.</summary>
    private ref struct Reader(ReadOnlySpan<byte> data)
    {
        private readonly ReadOnlySpan<byte> _data = data;
        private int _position;

        /// <summary>The next field's number and wire type; false at the end of the message.</summary>
        public bool Next(out int field, out int wire)
        {
            if (_position >= _data.Length)
            {
                field = wire = 0;
                return false;
            }

            var at = _position;
            var tag = ReadVarint("tag");
            field = (int)(tag >> 3);
            wire = (int)(tag & 7);
            if (field <= 0 || tag >> 3 > int.MaxValue)
            {
                throw new OtlpFormatException("", $"Invalid field number {tag >> 3} at byte {at}.");
            }

            return true;
        }

        public ulong Varint(int field, int wire, string name)
        {
            Expect(field, wire, WireVarint, name);
            return ReadVarint(name);
        }

        public ulong Fixed64(int field, int wire, string name)
        {
            Expect(field, wire, WireFixed64, name);
            return BinaryPrimitives.ReadUInt64LittleEndian(Take(8, name));
        }

        public ReadOnlySpan<byte> Bytes(int field, int wire, string name)
        {
            Expect(field, wire, WireLen, name);
            return Take(Length(name), name);
        }

        public string String(int field, int wire, string name) => Encoding.UTF8.GetString(Bytes(field, wire, name));

        /// <summary>Skips a field this reader does not know (forward compatibility).</summary>
        public void Skip(int wire)
        {
            switch (wire)
            {
                case WireVarint:
                    ReadVarint("unknown field");
                    break;
                case WireFixed64:
                    Take(8, "unknown field");
                    break;
                case WireLen:
                    Take(Length("unknown field"), "unknown field");
                    break;
                case WireFixed32:
                    Take(4, "unknown field");
                    break;
                default:
                    // 3 and 4 are proto2 groups, never used by OTLP; 6 and 7 do not exist.
                    throw new OtlpFormatException("", $"Unsupported wire type {wire} at byte {_position}.");
            }
        }

        private static void Expect(int field, int wire, int expected, string name)
        {
            if (wire != expected)
            {
                throw new OtlpFormatException(name, $"Field {field} has wire type {wire}; {name} is wire type {expected} ({WireName(expected)}).");
            }
        }

        private static string WireName(int wire) => wire switch
        {
            WireVarint => "varint",
            WireFixed64 => "fixed64",
            WireLen => "length-delimited",
            _ => "fixed32",
        };

        private int Length(string name)
        {
            var length = ReadVarint(name);
            if (length > (ulong)(_data.Length - _position))
            {
                throw new OtlpFormatException(name, $"Truncated: the length says {length} bytes, {_data.Length - _position} remain.");
            }

            return (int)length;
        }

        private ReadOnlySpan<byte> Take(int count, string name)
        {
            if (count > _data.Length - _position)
            {
                throw new OtlpFormatException(name, $"Truncated: {count} bytes needed, {_data.Length - _position} remain.");
            }

            var slice = _data.Slice(_position, count);
            _position += count;
            return slice;
        }

        private ulong ReadVarint(string name)
        {
            ulong value = 0;
            for (var shift = 0; shift < 70; shift += 7)
            {
                if (_position >= _data.Length)
                {
                    throw new OtlpFormatException(name, "Truncated: the message ends inside a varint.");
                }

                var b = _data[_position++];
                value |= (ulong)(b & 0x7F) << shift;
                if (b < 0x80)
                {
                    return value;
                }
            }

            throw new OtlpFormatException(name, "Malformed varint (longer than 10 bytes).");
        }
    }
}
