using System.Text.Json;
using EvalPlatform.Core.Assembly;
using EvalPlatform.Core.Otlp;
using EvalPlatform.Core.Traces;
using EvalPlatform.Web.Traces;

namespace EvalPlatform.Tests.Unit.Otlp;

/// <summary>The OTLP/JSON fixtures under Fixtures/Otlp, and what the trace view would make of mapped spans.</summary>
public static class OtlpFixtures
{
    public static string Path(string name) => System.IO.Path.Combine(AppContext.BaseDirectory, "Fixtures", "Otlp", name);

    public static OtlpExportRequest Read(string name)
    {
        using var document = JsonDocument.Parse(File.ReadAllText(Path(name)));
        return OtlpJson.ReadExportRequest(document.RootElement);
    }

    public static IReadOnlyList<SpanRecord> Map(string name, string? project = null)
    {
        var mapping = OtlpSpanMapper.Map(Read(name), project);
        Assert.Empty(mapping.Rejected);
        foreach (var record in mapping.Records)
        {
            var errors = new List<Core.Ingestion.FieldError>();
            Assert.True(TraceAssembler.Validate(record, errors), string.Join("; ", errors.Select(e => $"{e.Field}: {e.Message}")));
        }

        return mapping.Records;
    }

    /// <summary>The Chat tab's reading of one generation span.</summary>
    public static IReadOnlyList<ChatMessage> Chat(SpanRecord generation) =>
        ChatTranscript.From([new Span { Name = generation.Name ?? "", Kind = generation.Kind ?? SpanKind.Other, Input = generation.Input, Output = generation.Output }]);

    public static JsonElement Json(string? text)
    {
        Assert.NotNull(text);
        using var document = JsonDocument.Parse(text);
        return document.RootElement.Clone();
    }

    public static JsonElement Attributes(SpanRecord record) => Json(record.Attributes);
}
