using System.Globalization;
using System.Text.Json;

namespace EvalPlatform.Core.Ingestion;

/// <summary>
/// Reads typed fields from one JSON object, recording a <see cref="FieldError"/> (with its path)
/// for each wrong type, bad value or over-long text instead of throwing: a client learns every
/// problem of a request at once.
/// </summary>
internal sealed class JsonFields(JsonElement obj, string path, List<FieldError> errors)
{
    public JsonElement Element => obj;

    public List<FieldError> Errors => errors;

    public string PathOf(string name) => path.Length == 0 ? name : $"{path}.{name}";

    public void Error(string name, string message) => errors.Add(new FieldError(PathOf(name), message));

    public bool Has(string name) => obj.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null;

    public void RejectUnknown(IReadOnlySet<string> known, string hint)
    {
        foreach (var property in obj.EnumerateObject())
        {
            if (!known.Contains(property.Name))
            {
                Error(property.Name, $"Unknown field. {hint}");
            }
        }
    }

    public string? String(string name, int maxLength, bool required = false)
    {
        if (!obj.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null)
        {
            if (required)
            {
                Error(name, "Required.");
            }

            return null;
        }

        if (v.ValueKind != JsonValueKind.String)
        {
            Error(name, $"Must be a string, not {Describe(v)}.");
            return null;
        }

        var s = v.GetString()!;
        if (s.Length > maxLength)
        {
            Error(name, $"Must be at most {maxLength} characters (got {s.Length}).");
            return null;
        }

        if (required && s.Trim().Length == 0)
        {
            Error(name, "Must not be empty.");
            return null;
        }

        return s;
    }

    public int? NonNegativeInt(string name)
    {
        if (!TryGet(name, JsonValueKind.Number, "a number", out var v))
        {
            return null;
        }

        if (!v.TryGetInt32(out var i))
        {
            Error(name, "Must be a whole number within 32-bit range.");
            return null;
        }

        if (i < 0)
        {
            Error(name, "Must not be negative.");
            return null;
        }

        return i;
    }

    public double? NonNegativeNumber(string name)
    {
        if (!TryGet(name, JsonValueKind.Number, "a number", out var v))
        {
            return null;
        }

        if (!v.TryGetDouble(out var d) || !double.IsFinite(d))
        {
            Error(name, "Must be a finite number.");
            return null;
        }

        if (d < 0)
        {
            Error(name, "Must not be negative.");
            return null;
        }

        return d;
    }

    /// <summary>Any finite number, negative included (scores may be negative).</summary>
    public double? FiniteNumber(string name)
    {
        if (!TryGet(name, JsonValueKind.Number, "a number", out var v))
        {
            return null;
        }

        if (!v.TryGetDouble(out var d) || !double.IsFinite(d))
        {
            Error(name, "Must be a finite number.");
            return null;
        }

        return d;
    }

    public decimal? NonNegativeDecimal(string name)
    {
        var d = NonNegativeNumber(name);
        if (d is null)
        {
            return null;
        }

        if (d > 1_000_000_000)
        {
            Error(name, "Is implausibly large.");
            return null;
        }

        return decimal.Parse(obj.GetProperty(name).GetRawText(), NumberStyles.Float, CultureInfo.InvariantCulture);
    }

    /// <summary>A time in any form <see cref="Timestamps"/> reads (ISO 8601 of any precision, or a number since 1970).</summary>
    public DateTimeOffset? Time(string name)
    {
        if (!obj.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (Timestamps.Parse(v) is { } t)
        {
            return t;
        }

        Error(name, Timestamps.Expected);
        return null;
    }

    public List<string> StringArray(string name, int maxItems, int maxLength)
    {
        if (!TryGet(name, JsonValueKind.Array, "an array of strings", out var v))
        {
            return [];
        }

        var items = new List<string>();
        var i = 0;
        foreach (var item in v.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.String)
            {
                errors.Add(new FieldError($"{PathOf(name)}[{i}]", "Must be a string."));
            }
            else if (item.GetString()!.Length > maxLength)
            {
                errors.Add(new FieldError($"{PathOf(name)}[{i}]", $"Must be at most {maxLength} characters."));
            }
            else
            {
                items.Add(item.GetString()!);
            }

            i++;
        }

        if (items.Count > maxItems)
        {
            Error(name, $"At most {maxItems} items.");
        }

        return items.Distinct(StringComparer.Ordinal).ToList();
    }

    public JsonElement? Object(string name) =>
        TryGet(name, JsonValueKind.Object, "an object", out var v) ? v : null;

    public JsonElement? Array(string name) =>
        TryGet(name, JsonValueKind.Array, "an array", out var v) ? v : null;

    /// <summary>Any JSON value, kept as its text (bounded).</summary>
    public string? Json(string name, int maxLength = IngestionLimits.MaxLongText)
    {
        if (!obj.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        var text = v.GetRawText();
        if (text.Length > maxLength)
        {
            Error(name, $"Must be at most {maxLength} characters of JSON.");
            return null;
        }

        return text;
    }

    private bool TryGet(string name, JsonValueKind kind, string expected, out JsonElement value)
    {
        if (!obj.TryGetProperty(name, out value) || value.ValueKind == JsonValueKind.Null)
        {
            return false;
        }

        if (value.ValueKind != kind)
        {
            Error(name, $"Must be {expected}, not {Describe(value)}.");
            return false;
        }

        return true;
    }

    internal static string Describe(JsonElement v) => v.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        _ => "null",
    };
}
