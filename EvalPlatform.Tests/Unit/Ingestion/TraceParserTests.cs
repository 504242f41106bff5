using System.Security.Cryptography;
using System.Text.Json;
using EvalPlatform.Core.Ingestion;
using EvalPlatform.Core.Traces;

namespace EvalPlatform.Tests.Unit.Ingestion;

public sealed class TraceParserTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 27, 9, 0, 0, TimeSpan.Zero);

    private static (ParsedTrace? Trace, List<FieldError> Errors) Parse(string json)
    {
        var errors = new List<FieldError>();
        using var doc = JsonDocument.Parse(json);
        return (TraceParser.Parse(doc.RootElement.Clone(), "", 0, Now, errors), errors);
    }

    [Fact]
    public void LatencyAndEnd_DeriveTheStart()
    {
        var (parsed, errors) = Parse("""{"end_time":"2026-11-27T08:00:02Z","latency_ms":2000}""");

        Assert.Empty(errors);
        Assert.Equal(new DateTimeOffset(2026, 11, 27, 8, 0, 0, TimeSpan.Zero), parsed!.Trace.StartedAt);
    }

    [Fact]
    public void Previews_AreOneLine_AndBounded()
    {
        var (parsed, _) = Parse($$"""{"user_input":"line one\n\n   line two","response":"{{new string('r', 1000)}}"}""");

        Assert.Equal("line one line two", parsed!.Trace.InputPreview);
        Assert.Equal(IngestionLimits.PreviewLength, parsed.Trace.OutputPreview!.Length);
        Assert.EndsWith("…", parsed.Trace.OutputPreview, StringComparison.Ordinal);
    }

    [Fact]
    public void A_SelfParentedSpan_IsACycle()
    {
        var (parsed, errors) = Parse("""{"spans":[{"id":"a","name":"a","parent_id":"a"}]}""");

        Assert.Null(parsed);
        Assert.Contains(errors, e => e.Field == "spans" && e.Message.Contains("cycle", StringComparison.Ordinal));
    }

    [Fact]
    public void CanonicalHash_IgnoresKeyOrderAndWhitespace_ButNotValues()
    {
        static byte[] Hash(string json) => CanonicalJson.Hash(JsonDocument.Parse(json).RootElement);

        Assert.Equal(Hash("""{"a":1,"b":{"c":[1,2],"d":"x"}}"""), Hash("""{ "b": {"d":"x", "c":[1, 2]}, "a": 1 }"""));
        Assert.NotEqual(Hash("""{"a":1}"""), Hash("""{"a":2}"""));
        Assert.NotEqual(Hash("""{"c":[1,2]}"""), Hash("""{"c":[2,1]}"""));
    }

    [Fact]
    public void CanonicalHash_IsPinned_SoStoredHashesStayComparableWithRetries()
    {
        // Stored traces keep this hash; a change of the canonical form would turn retries into 409s.
        var hash = CanonicalJson.Hash(JsonDocument.Parse("{\"b\":[1,2.50,{\"z\":true,\"a\":null}],\"a\":\"x y <\u00e9>\"}").RootElement);

        Assert.Equal("4D320D3787888BF055690309A1FCFEA5E6A14E580E59760829BEE8EF5F5BE9A3", Convert.ToHexString(hash));
    }

    [Theory]
    [InlineData("""{"b":1,"a":2,"b":3,"A":4,"_":5,"~":6,"a b":7,"a<b":8,"ab":9}""")] // repeated names keep their order
    [InlineData("""{"\u0062":1,"a":2,"\u0061":3}""")] // escaped names sort by what they say
    [InlineData("""{"é":1,"z":2,"\ud83d\ude00":3,"\uffff":4,"e":5}""")] // non-ASCII: UTF-16 order (a surrogate pair before U+FFFF)
    [InlineData("""{"outer":{"z":[{"y":1,"x":2}],"a":"<&>\"é"},"list":[3,1]}""")]
    public void CanonicalHash_WritesWhatTheReferenceFormWrites(string json)
    {
        using var document = JsonDocument.Parse(json);
        Assert.Equal(SHA256.HashData(ReferenceCanonicalForm(document.RootElement)), CanonicalJson.Hash(document.RootElement));
    }

    [Fact]
    public void CanonicalHash_OfALargeObject_WritesWhatTheReferenceFormWrites()
    {
        var json = "{" + string.Join(",", Enumerable.Range(0, 200).Select(i => $"\"k{(i * 7919) % 200}\":{i}")) + "}";
        using var document = JsonDocument.Parse(json);
        Assert.Equal(SHA256.HashData(ReferenceCanonicalForm(document.RootElement)), CanonicalJson.Hash(document.RootElement));
    }

    // The canonical form as first written (strings, a stable ordinal sort, Utf8JsonWriter): the pinned stored hashes' form.
    private static byte[] ReferenceCanonicalForm(JsonElement element)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            Write(writer, element);
        }

        return buffer.WrittenSpan.ToArray();

        static void Write(Utf8JsonWriter writer, JsonElement element)
        {
            switch (element.ValueKind)
            {
                case JsonValueKind.Object:
                    writer.WriteStartObject();
                    foreach (var property in element.EnumerateObject().Select((p, i) => (p, i)).OrderBy(x => x.p.Name, StringComparer.Ordinal).ThenBy(x => x.i))
                    {
                        writer.WritePropertyName(property.p.Name);
                        Write(writer, property.p.Value);
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

    [Theory]
    [InlineData("gpt-4o-2024-08-06", 1_000_000, 0, 2.50)]
    [InlineData("gpt-4o-mini", 1_000_000, 1_000_000, 0.75)]
    [InlineData("openai/gpt-4o-mini", 2_000_000, 0, 0.30)]
    [InlineData("claude-sonnet-4-20250514", 0, 1_000_000, 15.00)]
    public void ModelPrices_MatchTheLongestPrefix(string model, int prompt, int completion, double expected)
    {
        Assert.Equal((decimal)expected, ModelPrices.Compute(model, prompt, completion));
    }

    [Fact]
    public void ModelPrices_DoNotGuessAnUnknownModel()
    {
        Assert.Null(ModelPrices.Compute("my-finetune", 100, 100));
        Assert.Null(ModelPrices.Compute("gpt-4o", null, null));
    }
}
