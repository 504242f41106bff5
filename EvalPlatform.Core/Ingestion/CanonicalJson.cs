using System.Buffers;
using System.Runtime.InteropServices;
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
    // Objects up to this size are sorted in place by insertion: stable, and the quickest for the dozen or so fields of a trace or span.
    private const int MaxInsertionSort = 64;

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
                WriteObject(writer, element);
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

    private static void WriteObject(Utf8JsonWriter writer, JsonElement element)
    {
        var count = element.GetPropertyCount();
        var properties = ArrayPool<JsonProperty>.Shared.Rent(count);
        try
        {
            // Ordinal by name; a repeated name keeps its order (a stable sort). Names of plain ASCII
            // (nearly all) are compared and written as the document's own UTF-8 bytes, which orders and
            // writes them exactly as their strings would, without making the strings.
            var n = 0;
            var plain = count <= MaxInsertionSort;
            foreach (var property in element.EnumerateObject())
            {
                properties[n++] = property;
                plain = plain && IsPlainAscii(JsonMarshal.GetRawUtf8PropertyName(property));
            }

            if (plain)
            {
                SortByRawName(properties.AsSpan(0, n));
            }
            else
            {
                var byName = properties.Take(n).Select((p, i) => (Name: p.Name, Position: i, Property: p)).ToList();
                byName.Sort(static (a, b) =>
                {
                    var order = string.CompareOrdinal(a.Name, b.Name);
                    return order != 0 ? order : a.Position.CompareTo(b.Position);
                });
                for (var i = 0; i < n; i++)
                {
                    properties[i] = byName[i].Property;
                }
            }

            writer.WriteStartObject();
            for (var i = 0; i < n; i++)
            {
                if (plain)
                {
                    writer.WritePropertyName(JsonMarshal.GetRawUtf8PropertyName(properties[i]));
                }
                else
                {
                    writer.WritePropertyName(properties[i].Name);
                }

                Write(writer, properties[i].Value);
            }

            writer.WriteEndObject();
        }
        finally
        {
            ArrayPool<JsonProperty>.Shared.Return(properties, clearArray: true);
        }
    }

    private static void SortByRawName(Span<JsonProperty> properties)
    {
        for (var i = 1; i < properties.Length; i++)
        {
            var current = properties[i];
            var name = JsonMarshal.GetRawUtf8PropertyName(current);
            var j = i - 1;
            while (j >= 0 && JsonMarshal.GetRawUtf8PropertyName(properties[j]).SequenceCompareTo(name) > 0)
            {
                properties[j + 1] = properties[j];
                j--;
            }

            properties[j + 1] = current;
        }
    }

    // ASCII without escapes: its bytes are its characters, and byte order is ordinal string order.
    private static bool IsPlainAscii(ReadOnlySpan<byte> name) =>
        !name.ContainsAnyExceptInRange((byte)0x20, (byte)0x7E) && !name.Contains((byte)'\\');
}
