using System.Text.Json;
using System.Text.Json.Nodes;

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

    /// <summary>
    /// The stored object with the incoming object's keys set over it; the stored text itself when no
    /// key's value changes (re-serialising alone would differ in escaping and count as a change).
    /// </summary>
    public static string MergeObjects(string? stored, string incoming)
    {
        if (stored is null || TryParse(stored) is not { ValueKind: JsonValueKind.Object })
        {
            return incoming;
        }

        var target = JsonNode.Parse(stored)!.AsObject();
        var changed = false;
        foreach (var (key, value) in JsonNode.Parse(incoming)!.AsObject())
        {
            if (target.TryGetPropertyValue(key, out var current) && JsonNode.DeepEquals(current, value))
            {
                continue;
            }

            target[key] = value?.DeepClone();
            changed = true;
        }

        return changed ? target.ToJsonString() : stored;
    }
}
