using System.Buffers;
using System.Security.Cryptography;
using System.Text.Json;

namespace EvalPlatform.Core.Ingestion;

/// <summary>
/// A hash of a JSON value that ignores property order and whitespace, so that a retry that
/// serialises the same trace differently still counts as the same trace. The canonical form is
/// the value written compactly with every object's properties in ordinal order of their names.
/// </summary>
public static class CanonicalJson
{
    // One buffer and writer per thread: hashing runs for every ingested trace.
    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_buffer;

    [ThreadStatic]
    private static Utf8JsonWriter? t_writer;

    public static byte[] Hash(JsonElement element)
    {
        var buffer = t_buffer ??= new ArrayBufferWriter<byte>(4096);
        buffer.ResetWrittenCount();
        var writer = t_writer ??= new Utf8JsonWriter(buffer);
        writer.Reset(buffer);
        Write(writer, element);
        writer.Flush();
        var hash = SHA256.HashData(buffer.WrittenSpan);
        if (buffer.Capacity > 1024 * 1024)
        {
            t_buffer = null; // do not keep a huge trace's buffer alive
        }

        return hash;
    }

    private static void Write(Utf8JsonWriter writer, JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                var properties = new List<(string Name, int Position, JsonElement Value)>();
                foreach (var property in element.EnumerateObject())
                {
                    properties.Add((property.Name, properties.Count, property.Value));
                }

                // Ordinal by name; a repeated name keeps its order (as a stable sort would).
                properties.Sort(static (a, b) =>
                {
                    var byName = string.CompareOrdinal(a.Name, b.Name);
                    return byName != 0 ? byName : a.Position.CompareTo(b.Position);
                });
                writer.WriteStartObject();
                foreach (var (name, _, value) in properties)
                {
                    writer.WritePropertyName(name);
                    Write(writer, value);
                }

                writer.WriteEndObject();
                break;
            case JsonValueKind.Array:
                writer.WriteStartArray();
                foreach (var item in element.EnumerateArray())
                {
                    Write(writer, item);
                }

                writer.WriteEndArray();
                break;
            default:
                element.WriteTo(writer);
                break;
        }
    }
}
