using System.Text.Json;

namespace EvalPlatform.Core.Common;

/// <summary>Reading JSON text the platform stored (span input, output, attributes) where a bad value must not break a page.</summary>
public static class StoredJson
{
    /// <summary>The value, detached from its document; null for null, empty or malformed text.</summary>
    public static JsonElement? TryParse(string? json)
    {
        if (string.IsNullOrEmpty(json))
        {
            return null;
        }

        try
        {
            using var doc = JsonDocument.Parse(json);
            return doc.RootElement.Clone();
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
