using System.Text.Json;

namespace EvalPlatform.Core.Ingestion;

/// <summary>
/// Text every supported database can store. PostgreSQL refuses the NUL character (U+0000) in <c>text</c> and
/// <c>"\u0000"</c> in <c>jsonb</c>; SQLite stores it. The JSON doors refuse it up front, naming the field, so such
/// a trace is a 400 of its own request and never reaches the shared group commit (ADR 35). Elsewhere the store's
/// data-error path (<see cref="Data.IStoreErrors"/>) still refuses whatever else the database cannot hold, trace by trace.
/// </summary>
public static class StorableText
{
    public const string NulMessage = "Must not contain the NUL character (\\u0000): the database cannot store it.";

    /// <summary>
    /// Adds an error for every string value and property name under <paramref name="element"/> that holds U+0000,
    /// by its JSON path (<c>metadata.a</c>, <c>spans[2].name</c>). Cheap when there is none: JSON can only carry
    /// it escaped, so the raw text is searched first.
    /// </summary>
    public static void RejectNul(JsonElement element, string path, List<FieldError> errors)
    {
        if (element.GetRawText().Contains("\\u0000", StringComparison.OrdinalIgnoreCase))
        {
            Walk(element, path, errors);
        }
    }

    private static void Walk(JsonElement element, string path, List<FieldError> errors)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.String when element.GetString()!.Contains('\0', StringComparison.Ordinal):
                errors.Add(new FieldError(path.Length == 0 ? "$" : path, NulMessage));
                break;
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    var child = path.Length == 0 ? property.Name.Replace("\0", "\\u0000", StringComparison.Ordinal) : $"{path}.{property.Name.Replace("\0", "\\u0000", StringComparison.Ordinal)}";
                    if (property.Name.Contains('\0', StringComparison.Ordinal))
                    {
                        errors.Add(new FieldError(child, NulMessage));
                    }

                    Walk(property.Value, child, errors);
                }

                break;
            case JsonValueKind.Array:
                var i = 0;
                foreach (var item in element.EnumerateArray())
                {
                    Walk(item, $"{path}[{i++}]", errors);
                }

                break;
        }
    }
}
