namespace EvalPlatform.Core.Otlp;

/// <summary>
/// The parts of an OTLP <c>ExportTraceServiceRequest</c> this platform reads, decoded from protobuf
/// (<see cref="OtlpProtobuf"/>) or from OTLP/JSON (<see cref="OtlpJson"/>); both readers fill the same model.
/// </summary>
public sealed class OtlpExportRequest
{
    public List<OtlpResourceSpans> ResourceSpans { get; } = [];

    /// <summary>Spans that could not be read (a field of the wrong type in OTLP/JSON): skipped and reported, the others kept.</summary>
    public List<Ingestion.FieldError> Unreadable { get; } = [];

    public int SpanCount => ResourceSpans.Sum(r => r.ScopeSpans.Sum(s => s.Spans.Count)) + Unreadable.Count;
}

public sealed class OtlpResourceSpans
{
    public List<OtlpAttribute> ResourceAttributes { get; } = [];
    public List<OtlpScopeSpans> ScopeSpans { get; } = [];
}

public sealed class OtlpScopeSpans
{
    public string? ScopeName { get; set; }
    public string? ScopeVersion { get; set; }
    public List<OtlpAttribute> ScopeAttributes { get; } = [];
    public List<OtlpSpan> Spans { get; } = [];
}

/// <summary>
/// One span. Ids are kept as sent (<see cref="OtlpId"/>): a bad id rejects this span only, not the request.
/// </summary>
public sealed class OtlpSpan
{
    public OtlpId TraceId { get; set; }
    public OtlpId SpanId { get; set; }
    public OtlpId ParentSpanId { get; set; }
    public string? TraceState { get; set; }
    public string Name { get; set; } = "";

    /// <summary>OTLP <c>SpanKind</c>: 0 unspecified, 1 internal, 2 server, 3 client, 4 producer, 5 consumer.</summary>
    public int Kind { get; set; }

    public ulong StartTimeUnixNano { get; set; }
    public ulong EndTimeUnixNano { get; set; }
    public List<OtlpAttribute> Attributes { get; } = [];
    public List<OtlpEvent> Events { get; } = [];
    public List<OtlpLink> Links { get; } = [];

    /// <summary>OTLP <c>Status.code</c>: 0 unset, 1 ok, 2 error.</summary>
    public int StatusCode { get; set; }

    public string? StatusMessage { get; set; }
}

public sealed class OtlpEvent
{
    public ulong TimeUnixNano { get; set; }
    public string Name { get; set; } = "";
    public List<OtlpAttribute> Attributes { get; } = [];
}

public sealed class OtlpLink
{
    public OtlpId TraceId { get; set; }
    public OtlpId SpanId { get; set; }
    public string? TraceState { get; set; }
    public List<OtlpAttribute> Attributes { get; } = [];
}

/// <summary>
/// One attribute. <see cref="Value"/> is an OTLP <c>AnyValue</c> as a plain CLR value: <see cref="string"/>,
/// <see cref="bool"/>, <see cref="long"/>, <see cref="double"/>, <see cref="byte"/>[] (bytes),
/// <see cref="OtlpValue"/>[] (array), <see cref="OtlpAttribute"/>[] (kvlist), or null (no value).
/// </summary>
public sealed record OtlpAttribute(string Key, object? Value);

/// <summary>An element of an OTLP <c>ArrayValue</c> (see <see cref="OtlpAttribute.Value"/> for the CLR types).</summary>
public readonly record struct OtlpValue(object? Value);

/// <summary>
/// A trace or span id as sent: its lower-case hex when well formed (16 bytes for a trace, 8 for a
/// span, not all zero), otherwise the reason it is not. An empty id is <see cref="IsEmpty"/>
/// (a root span's parent).
/// </summary>
public readonly record struct OtlpId(string? Hex, string? Problem)
{
    public bool IsEmpty => Hex is null && Problem is null;

    public static OtlpId FromBytes(ReadOnlySpan<byte> bytes, int expectedLength)
    {
        if (bytes.IsEmpty)
        {
            return default;
        }

        if (bytes.Length != expectedLength)
        {
            return new OtlpId(null, $"Must be {expectedLength} bytes (got {bytes.Length}).");
        }

        return bytes.IndexOfAnyExcept((byte)0) < 0
            ? new OtlpId(null, "Must not be all zeros.")
            : new OtlpId(Convert.ToHexStringLower(bytes), null);
    }

    /// <summary>An id in OTLP/JSON: hex (the OTLP/JSON rule) or base64 (the proto3 JSON rule for bytes, which some exporters follow).</summary>
    public static OtlpId FromText(string? text, int expectedLength)
    {
        if (string.IsNullOrEmpty(text))
        {
            return default;
        }

        if (text.Length == expectedLength * 2 && IsHex(text))
        {
            return FromBytes(Convert.FromHexString(text), expectedLength);
        }

        Span<byte> buffer = stackalloc byte[64];
        if (text.Length <= 88 && Convert.TryFromBase64String(text, buffer, out var written))
        {
            return FromBytes(buffer[..written], expectedLength);
        }

        return new OtlpId(null, $"Must be {expectedLength * 2} hex digits or base64 of {expectedLength} bytes (got '{(text.Length > 40 ? text[..40] + "…" : text)}').");
    }

    private static bool IsHex(string text)
    {
        foreach (var c in text)
        {
            if (!char.IsAsciiHexDigit(c))
            {
                return false;
            }
        }

        return true;
    }
}

/// <summary>A body that is not a well-formed OTLP export: the request is refused (400) and nothing is stored.</summary>
public sealed class OtlpFormatException(string path, string message) : Exception($"{path}: {message}")
{
    public string Path { get; } = path;
    public string Reason { get; } = message;

    /// <summary>The same problem, seen from the message that holds the one that failed.</summary>
    public OtlpFormatException Within(string outer) => new(Path is "" or "$" ? outer : outer + "." + Path, Reason);
}
