using System.IO.Compression;
using System.Text.Json;
using EvalPlatform.Core.Ingestion;
using EvalPlatform.Core.Otlp;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Traces;
using EvalPlatform.Web.Auth;
using EvalPlatform.Web.Ingestion;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Net.Http.Headers;

namespace EvalPlatform.Web.Endpoints;

/// <summary>
/// OTLP/HTTP trace export (<c>POST /v1/traces</c>, also under <c>/api/otel</c>): protobuf or JSON,
/// gzip or deflate, answered with an <c>ExportTraceServiceResponse</c> in the request's content type.
/// Decoding and mapping live in Core (<c>EvalPlatform.Core/Otlp</c>); storage is the trace assembler's.
/// </summary>
public static class OtlpEndpoints
{
    public const string ProtobufMediaType = "application/x-protobuf";
    public const string JsonMediaType = "application/json";

    /// <summary>Phoenix's project header; the project becomes the tag <c>project:&lt;name&gt;</c>.</summary>
    public const string ProjectHeader = "x-project-name";

    public static IEndpointRouteBuilder MapOtlpEndpoints(this IEndpointRouteBuilder app)
    {
        foreach (var (route, name) in new[] { ("/v1/traces", "OtlpExportTraces"), ("/api/otel/v1/traces", "OtlpExportTracesUnderApi") })
        {
            app.MapPost(route, ExportAsync).RequirePermission(Permission.IngestTraces).RequireIngestionCors(IngestionDoor.Otlp)
                .WithName(name).WithTags("OpenTelemetry")
                .WithSummary("OTLP/HTTP trace export (protobuf or JSON, gzip or deflate); spans of one trace merge across exports")
                .Accepts<byte[]>(ProtobufMediaType, JsonMediaType);
        }

        return app;
    }

    private static async Task<Results<FileContentHttpResult, ProblemHttpResult>> ExportAsync(HttpRequest request, OtlpTraceImporter importer, CancellationToken ct)
    {
        var isJson = MediaType(request);
        var body = await ReadBodyAsync(request, ct);
        OtlpExportRequest export;
        try
        {
            export = isJson ? ReadJson(body) : OtlpProtobuf.ReadExportRequest(body.Span);
        }
        catch (OtlpFormatException e)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Malformed OTLP export",
                detail: $"{(isJson ? "OTLP/JSON" : "OTLP protobuf")} body: {e.Path}: {e.Reason} Nothing was stored.",
                extensions: new Dictionary<string, object?> { ["errors"] = new Dictionary<string, string[]> { [e.Path] = [e.Reason] } });
        }

        var project = request.Headers[ProjectHeader].ToString();
        var result = await importer.ImportAsync(export, string.IsNullOrWhiteSpace(project) ? null : project, ct);
        return isJson
            ? TypedResults.Bytes(JsonResponse(result), JsonMediaType)
            : TypedResults.Bytes(OtlpProtobufWriter.WriteExportResponse(result.Rejected, result.ErrorMessage), ProtobufMediaType);
    }

    /// <summary>True for JSON, false for protobuf; anything else is 415.</summary>
    private static bool MediaType(HttpRequest request)
    {
        var mediaType = request.ContentType is { } header && MediaTypeHeaderValue.TryParse(header, out var parsed) ? parsed.MediaType.Value : null;
        if (mediaType is not null)
        {
            if (mediaType.Equals(ProtobufMediaType, StringComparison.OrdinalIgnoreCase) || mediaType.Equals("application/protobuf", StringComparison.OrdinalIgnoreCase))
            {
                return false;
            }

            if (mediaType.Equals(JsonMediaType, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        throw new UnacceptableBodyException(StatusCodes.Status415UnsupportedMediaType,
            $"Send OTLP as {ProtobufMediaType} or {JsonMediaType} (got '{request.ContentType ?? "no Content-Type"}').");
    }

    /// <summary>The body, decompressed, within the batch API's size limit (as sent and decompressed alike).</summary>
    private static async Task<ReadOnlyMemory<byte>> ReadBodyAsync(HttpRequest request, CancellationToken ct)
    {
        var max = IngestionLimits.MaxBatchBytes;
        var encoding = request.Headers.ContentEncoding.ToString().Trim().ToLowerInvariant();
        if (encoding is not ("" or "identity" or "gzip" or "x-gzip" or "deflate"))
        {
            throw new UnacceptableBodyException(StatusCodes.Status415UnsupportedMediaType,
                $"Content-Encoding '{encoding}' is not supported: send gzip, deflate or no encoding.");
        }

        try
        {
            return await JsonBody.ReadLimitedAsync(request, max, encoding switch
            {
                "gzip" or "x-gzip" => body => new GZipStream(body, CompressionMode.Decompress, leaveOpen: true),
                "deflate" => body => new ZLibStream(body, CompressionMode.Decompress, leaveOpen: true),
                _ => null,
            }, ct);
        }
        catch (InvalidDataException)
        {
            throw new InputValidationException([new FieldError("$", $"The body is not valid {encoding} data (Content-Encoding: {encoding}).")]);
        }
    }

    private static OtlpExportRequest ReadJson(ReadOnlyMemory<byte> body)
    {
        try
        {
            using var document = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = IngestionLimits.MaxJsonDepth });
            return OtlpJson.ReadExportRequest(document.RootElement);
        }
        catch (JsonException e)
        {
            throw new OtlpFormatException("$", $"Malformed JSON at line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}.");
        }
    }

    /// <summary>The proto3 JSON form of <c>ExportTraceServiceResponse</c>: <c>{}</c>, or <c>partialSuccess</c> (int64 as a string).</summary>
    private static byte[] JsonResponse(OtlpImportResult result)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream))
        {
            writer.WriteStartObject();
            if (result.Rejected > 0)
            {
                writer.WriteStartObject("partialSuccess");
                writer.WriteString("rejectedSpans", result.Rejected.ToString(System.Globalization.CultureInfo.InvariantCulture));
                writer.WriteString("errorMessage", result.ErrorMessage);
                writer.WriteEndObject();
            }

            writer.WriteEndObject();
        }

        return stream.ToArray();
    }
}
