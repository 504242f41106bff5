using System.Globalization;
using System.Text.Json;

namespace EvalPlatform.Core.Otlp;

/// <summary>
/// Reads OTLP/JSON (the proto3 JSON mapping of <c>ExportTraceServiceRequest</c>): lowerCamelCase field
/// names (snake_case accepted too), trace and span ids as hex (or base64, as generic proto3 JSON
/// writes bytes), 64-bit integers as strings or numbers, enums as integers (or their names).
/// Unknown fields are ignored; a value of the wrong type throws <see cref="OtlpFormatException"/>, except within a
/// span, which is then skipped and listed in <see cref="OtlpExportRequest.Unreadable"/>.
/// </summary>
public static class OtlpJson
{
    public static OtlpExportRequest ReadExportRequest(JsonElement root)
    {
        var request = new OtlpExportRequest();
        Expect(root, JsonValueKind.Object, "$");
        foreach (var (rs, rsPath) in Array(root, "resourceSpans", "resource_spans", ""))
        {
            Expect(rs, JsonValueKind.Object, rsPath);
            var resourceSpans = new OtlpResourceSpans();
            if (Field(rs, "resource", "resource") is { } resource)
            {
                Expect(resource, JsonValueKind.Object, rsPath + ".resource");
                Attributes(resource, rsPath + ".resource", resourceSpans.ResourceAttributes);
            }

            var scopes = Array(rs, "scopeSpans", "scope_spans", rsPath).ToList();
            scopes.AddRange(Array(rs, "instrumentationLibrarySpans", "instrumentation_library_spans", rsPath));
            foreach (var (ss, ssPath) in scopes)
            {
                Expect(ss, JsonValueKind.Object, ssPath);
                var scopeSpans = new OtlpScopeSpans();
                if ((Field(ss, "scope", "scope") ?? Field(ss, "instrumentationLibrary", "instrumentation_library")) is { } scope)
                {
                    Expect(scope, JsonValueKind.Object, ssPath + ".scope");
                    scopeSpans.ScopeName = Str(scope, "name", "name", ssPath + ".scope");
                    scopeSpans.ScopeVersion = Str(scope, "version", "version", ssPath + ".scope");
                    Attributes(scope, ssPath + ".scope", scopeSpans.ScopeAttributes);
                }

                foreach (var (s, sPath) in Array(ss, "spans", "spans", ssPath))
                {
                    try
                    {
                        scopeSpans.Spans.Add(Span(s, sPath));
                    }
                    catch (OtlpFormatException e)
                    {
                        // One span of the wrong shape is skipped and reported; the export's other spans are stored (issue 20).
                        request.Unreadable.Add(new Ingestion.FieldError(e.Path, e.Reason));
                    }
                }

                resourceSpans.ScopeSpans.Add(scopeSpans);
            }

            request.ResourceSpans.Add(resourceSpans);
        }

        return request;
    }

    private static OtlpSpan Span(JsonElement s, string path)
    {
        Expect(s, JsonValueKind.Object, path);
        var span = new OtlpSpan
        {
            TraceId = OtlpId.FromText(Str(s, "traceId", "trace_id", path), 16),
            SpanId = OtlpId.FromText(Str(s, "spanId", "span_id", path), 8),
            ParentSpanId = OtlpId.FromText(Str(s, "parentSpanId", "parent_span_id", path), 8),
            TraceState = Str(s, "traceState", "trace_state", path),
            Name = Str(s, "name", "name", path) ?? "",
            Kind = Enum(s, "kind", "kind", path, "SPAN_KIND_", ["UNSPECIFIED", "INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER"]),
            StartTimeUnixNano = UInt64(s, "startTimeUnixNano", "start_time_unix_nano", path),
            EndTimeUnixNano = UInt64(s, "endTimeUnixNano", "end_time_unix_nano", path),
        };
        Attributes(s, path, span.Attributes);
        foreach (var (e, ePath) in Array(s, "events", "events", path))
        {
            Expect(e, JsonValueKind.Object, ePath);
            var ev = new OtlpEvent
            {
                TimeUnixNano = UInt64(e, "timeUnixNano", "time_unix_nano", ePath),
                Name = Str(e, "name", "name", ePath) ?? "",
            };
            Attributes(e, ePath, ev.Attributes);
            span.Events.Add(ev);
        }

        foreach (var (l, lPath) in Array(s, "links", "links", path))
        {
            Expect(l, JsonValueKind.Object, lPath);
            var link = new OtlpLink
            {
                TraceId = OtlpId.FromText(Str(l, "traceId", "trace_id", lPath), 16),
                SpanId = OtlpId.FromText(Str(l, "spanId", "span_id", lPath), 8),
                TraceState = Str(l, "traceState", "trace_state", lPath),
            };
            Attributes(l, lPath, link.Attributes);
            span.Links.Add(link);
        }

        if (Field(s, "status", "status") is { } status)
        {
            Expect(status, JsonValueKind.Object, path + ".status");
            span.StatusCode = Enum(status, "code", "code", path + ".status", "STATUS_CODE_", ["UNSET", "OK", "ERROR"]);
            span.StatusMessage = Str(status, "message", "message", path + ".status");
        }

        return span;
    }

    private static void Attributes(JsonElement owner, string path, List<OtlpAttribute> into)
    {
        foreach (var (kv, kvPath) in Array(owner, "attributes", "attributes", path))
        {
            into.Add(KeyValue(kv, kvPath, 0));
        }
    }

    private static OtlpAttribute KeyValue(JsonElement kv, string path, int depth)
    {
        Expect(kv, JsonValueKind.Object, path);
        var key = Str(kv, "key", "key", path) ?? "";
        var value = Field(kv, "value", "value") is { } v ? AnyValue(v, path + ".value", depth) : null;
        return new OtlpAttribute(key, value);
    }

    private static object? AnyValue(JsonElement v, string path, int depth)
    {
        if (depth > OtlpProtobuf.MaxValueDepth)
        {
            throw new OtlpFormatException(path, $"Values nested deeper than {OtlpProtobuf.MaxValueDepth} levels.");
        }

        if (v.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        Expect(v, JsonValueKind.Object, path);
        foreach (var p in v.EnumerateObject())
        {
            var at = path + "." + p.Name;
            switch (p.Name)
            {
                case "stringValue" or "string_value":
                    Expect(p.Value, JsonValueKind.String, at);
                    return p.Value.GetString();
                case "boolValue" or "bool_value":
                    return p.Value.ValueKind switch
                    {
                        JsonValueKind.True => true,
                        JsonValueKind.False => false,
                        _ => throw new OtlpFormatException(at, "Must be true or false."),
                    };
                case "intValue" or "int_value":
                    return Int64(p.Value, at);
                case "doubleValue" or "double_value":
                    return Double(p.Value, at);
                case "bytesValue" or "bytes_value":
                    Expect(p.Value, JsonValueKind.String, at);
                    return p.Value.TryGetBytesFromBase64(out var bytes) ? bytes : throw new OtlpFormatException(at, "Must be base64.");
                case "arrayValue" or "array_value":
                    Expect(p.Value, JsonValueKind.Object, at);
                    return Array(p.Value, "values", "values", at).Select(e => new OtlpValue(AnyValue(e.Element, e.Path, depth + 1))).ToArray();
                case "kvlistValue" or "kvlist_value":
                    Expect(p.Value, JsonValueKind.Object, at);
                    return Array(p.Value, "values", "values", at).Select(e => KeyValue(e.Element, e.Path, depth + 1)).ToArray();
            }
        }

        return null;
    }

    private static JsonElement? Field(JsonElement obj, string camel, string snake) =>
        obj.TryGetProperty(camel, out var v) || (snake != camel && obj.TryGetProperty(snake, out v))
            ? (v.ValueKind == JsonValueKind.Null ? null : v)
            : null;

    private static IEnumerable<(JsonElement Element, string Path)> Array(JsonElement obj, string camel, string snake, string path)
    {
        if (Field(obj, camel, snake) is not { } array)
        {
            yield break;
        }

        var at = path.Length == 0 ? camel : path + "." + camel;
        Expect(array, JsonValueKind.Array, at);
        var i = 0;
        foreach (var e in array.EnumerateArray())
        {
            yield return (e, $"{at}[{i++}]");
        }
    }

    private static string? Str(JsonElement obj, string camel, string snake, string path)
    {
        if (Field(obj, camel, snake) is not { } v)
        {
            return null;
        }

        Expect(v, JsonValueKind.String, path + "." + camel);
        return v.GetString();
    }

    private static ulong UInt64(JsonElement obj, string camel, string snake, string path)
    {
        if (Field(obj, camel, snake) is not { } v)
        {
            return 0;
        }

        var ok = v.ValueKind switch
        {
            JsonValueKind.String => ulong.TryParse(v.GetString(), NumberStyles.None, CultureInfo.InvariantCulture, out var s) ? s : (ulong?)null,
            JsonValueKind.Number => v.TryGetUInt64(out var n) ? n : null,
            _ => null,
        };
        return ok ?? throw new OtlpFormatException(path + "." + camel, "Must be a non-negative 64-bit integer (a number or a decimal string).");
    }

    private static long Int64(JsonElement v, string path)
    {
        var ok = v.ValueKind switch
        {
            JsonValueKind.String => long.TryParse(v.GetString(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var s) ? s : (long?)null,
            JsonValueKind.Number => v.TryGetInt64(out var n) ? n : null,
            _ => null,
        };
        return ok ?? throw new OtlpFormatException(path, "Must be a 64-bit integer (a number or a decimal string).");
    }

    private static double Double(JsonElement v, string path) => v.ValueKind switch
    {
        JsonValueKind.Number => v.GetDouble(),
        JsonValueKind.String when double.TryParse(v.GetString(), NumberStyles.Float, CultureInfo.InvariantCulture, out var d) => d,
        JsonValueKind.String when v.GetString() is "NaN" or "Infinity" or "-Infinity" => double.Parse(v.GetString()!, CultureInfo.InvariantCulture),
        _ => throw new OtlpFormatException(path, "Must be a number."),
    };

    private static int Enum(JsonElement obj, string camel, string snake, string path, string prefix, string[] names)
    {
        if (Field(obj, camel, snake) is not { } v)
        {
            return 0;
        }

        if (v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var n) && n >= 0)
        {
            return n;
        }

        if (v.ValueKind == JsonValueKind.String)
        {
            var text = v.GetString()!;
            var name = text.StartsWith(prefix, StringComparison.Ordinal) ? text[prefix.Length..] : text;
            var index = System.Array.IndexOf(names, name);
            if (index >= 0)
            {
                return index;
            }
        }

        throw new OtlpFormatException(path + "." + camel, $"Must be an enum number (or one of {prefix}{string.Join($", {prefix}", names)}).");
    }

    private static void Expect(JsonElement e, JsonValueKind kind, string path)
    {
        if (e.ValueKind != kind)
        {
            throw new OtlpFormatException(path, $"Must be a JSON {kind.ToString().ToLowerInvariant()} (got {e.ValueKind.ToString().ToLowerInvariant()}).");
        }
    }
}
