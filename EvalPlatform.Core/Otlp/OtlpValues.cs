using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace EvalPlatform.Core.Otlp;

/// <summary>Conversions of OTLP attribute values (see <see cref="OtlpAttribute.Value"/>) to text, numbers and JSON.</summary>
public static class OtlpValues
{
    /// <summary>The most characters of one attribute value kept in a span's attributes; longer strings are cut and say so.</summary>
    public const int MaxAttributeValueLength = 32 * 1024;

    private static readonly JsonDocumentOptions ParseOptions = new() { MaxDepth = Ingestion.IngestionLimits.MaxJsonDepth };

    /// <summary>A scalar as text (numbers and booleans in invariant form); null for arrays, lists and bytes.</summary>
    public static string? Text(object? value) => value switch
    {
        string s => s,
        long l => l.ToString(CultureInfo.InvariantCulture),
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        bool b => b ? "true" : "false",
        _ => null,
    };

    public static long? WholeNumber(object? value) => value switch
    {
        long l => l,
        double d when double.IsFinite(d) && Math.Abs(d) < 9e18 => (long)Math.Round(d),
        string s when long.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l) => l,
        string s when double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d) && Math.Abs(d) < 9e18 => (long)Math.Round(d),
        _ => null,
    };

    public static double? Number(object? value) => value switch
    {
        long l => l,
        double d when double.IsFinite(d) => d,
        string s when double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d) => d,
        _ => null,
    };

    /// <summary>The value as JSON: typed scalars, arrays, key-value lists as objects, bytes as base64; strings cut at <paramref name="maxString"/>.</summary>
    public static JsonNode? ToJson(object? value, int maxString = int.MaxValue) => value switch
    {
        null => null,
        string s => JsonValue.Create(Cut(s, maxString)),
        long l => JsonValue.Create(l),
        double d => double.IsFinite(d) ? JsonValue.Create(d) : JsonValue.Create(d.ToString(CultureInfo.InvariantCulture)),
        bool b => JsonValue.Create(b),
        byte[] bytes => JsonValue.Create(Convert.ToBase64String(bytes)),
        OtlpValue[] array => new JsonArray(array.Select(v => ToJson(v.Value, maxString)).ToArray()),
        OtlpAttribute[] pairs => ToObject(pairs, maxString),
        _ => null,
    };

    public static JsonObject ToObject(IEnumerable<OtlpAttribute> pairs, int maxString = int.MaxValue)
    {
        var obj = new JsonObject();
        foreach (var p in pairs)
        {
            obj[p.Key] = ToJson(p.Value, maxString);
        }

        return obj;
    }

    /// <summary>
    /// A value that may carry structure: a string holding a JSON object or array is parsed (instrumentations
    /// send messages and metadata as JSON strings); arrays and lists convert; any other string stays a string.
    /// </summary>
    public static JsonNode? Structured(object? value)
    {
        if (value is string s)
        {
            return ParseJson(s, onlyContainers: true) ?? JsonValue.Create(s);
        }

        return ToJson(value);
    }

    /// <summary>Parses JSON text; null when it is not JSON (or, with <paramref name="onlyContainers"/>, not an object or array).</summary>
    public static JsonNode? ParseJson(string text, bool onlyContainers)
    {
        var span = text.AsSpan().TrimStart();
        if (span.IsEmpty || (onlyContainers && span[0] is not ('{' or '[')))
        {
            return null;
        }

        try
        {
            return JsonNode.Parse(text, documentOptions: ParseOptions);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>
    /// A generic input or output as the JSON the trace stores: JSON text stays JSON when its mime type says
    /// so (or, without one, when it looks like an object or array); plain text becomes a JSON string.
    /// </summary>
    public static JsonNode? Payload(object? value, string? mimeType)
    {
        if (value is not string s)
        {
            return ToJson(value);
        }

        if (mimeType is not null && mimeType.StartsWith("text/", StringComparison.OrdinalIgnoreCase))
        {
            return JsonValue.Create(s);
        }

        // Without a mime type, text that starts like a JSON object, array or string and parses whole is
        // JSON (SDKs such as Langfuse's serialise every value, so a string arrives quoted).
        var json = (mimeType is not null && mimeType.Contains("json", StringComparison.OrdinalIgnoreCase))
                   || s.AsSpan().TrimStart() is [ '"', ..]
            ? ParseJson(s, onlyContainers: false)
            : ParseJson(s, onlyContainers: true);
        return json ?? JsonValue.Create(s);
    }

    public static DateTimeOffset? FromUnixNanos(ulong nanos) =>
        nanos == 0 ? null : DateTimeOffset.UnixEpoch.AddTicks((long)(nanos / 100));

    private static string Cut(string s, int max) =>
        s.Length <= max ? s : string.Concat(s.AsSpan(0, max), $"…[cut: {s.Length} characters, limit {max}]");
}

/// <summary>
/// A span's attributes by key (the last of a repeated key wins), remembering which ones a mapping used:
/// <see cref="Unused"/> is what goes to the span's attributes object, so nothing unknown is dropped.
/// </summary>
internal sealed class OtlpAttributeBag
{
    private readonly Dictionary<string, object?> _values = new(StringComparer.Ordinal);
    private readonly List<string> _order = [];
    private readonly HashSet<string> _used = new(StringComparer.Ordinal);

    public OtlpAttributeBag(IEnumerable<OtlpAttribute> attributes) => AddMissing(attributes);

    /// <summary>Adds attributes the bag does not hold yet (an operation-details event's attributes under the span's own).</summary>
    public void AddMissing(IEnumerable<OtlpAttribute> attributes)
    {
        foreach (var a in attributes)
        {
            if (!_values.ContainsKey(a.Key))
            {
                _order.Add(a.Key);
            }
            else if (_used.Contains(a.Key))
            {
                continue;
            }

            _values[a.Key] = a.Value;
        }
    }

    public bool Has(string key) => _values.TryGetValue(key, out var v) && v is not null;

    public object? Peek(string key) => _values.TryGetValue(key, out var v) ? v : null;

    /// <summary>The value, marking the key used when it holds one.</summary>
    public object? Take(string key)
    {
        if (_values.TryGetValue(key, out var v) && v is not null)
        {
            _used.Add(key);
            return v;
        }

        return null;
    }

    public string? TakeText(string key) => OtlpValues.Text(Peek(key)) is { } text ? Use(key, text) : null;

    public void Use(string key) => _used.Add(key);

    public T Use<T>(string key, T value)
    {
        _used.Add(key);
        return value;
    }

    /// <summary>The first key (in order) holding a value, not marked.</summary>
    public string? FirstPresent(params string[] keys) => keys.FirstOrDefault(Has);

    public bool HasPrefix(string prefix) => _order.Any(k => k.StartsWith(prefix, StringComparison.Ordinal) && !_used.Contains(k));

    /// <summary>Keys starting with <paramref name="prefix"/> with the rest of the key, in order, not marked.</summary>
    public List<(string Key, string Suffix, object? Value)> WithPrefix(string prefix) =>
        _order.Where(k => k.StartsWith(prefix, StringComparison.Ordinal) && !_used.Contains(k))
            .Select(k => (k, k[prefix.Length..], _values[k])).ToList();

    public IEnumerable<OtlpAttribute> Unused() =>
        _order.Where(k => !_used.Contains(k)).Select(k => new OtlpAttribute(k, _values[k]));
}
