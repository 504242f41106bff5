using System.Text.Json;
using EvalPlatform.Core.Ingestion;
using EvalPlatform.Core.Traces;
using Microsoft.AspNetCore.Http.Features;

namespace EvalPlatform.Web.Ingestion;

/// <summary>The body was too large (413) or not JSON (415).</summary>
public sealed class UnacceptableBodyException(int status, string message) : Exception(message)
{
    public int Status { get; } = status;
}

/// <summary>
/// Reads a JSON request body with the API's rules: <c>application/json</c> only (415), a size
/// limit (413), at most 64 levels of nesting, and malformed JSON reported with where it broke.
/// </summary>
public static class JsonBody
{
    public static async Task<JsonDocument> ReadAsync(HttpRequest request, long maxBytes, CancellationToken ct)
    {
        var mediaType = request.ContentType is { } ct0 && Microsoft.Net.Http.Headers.MediaTypeHeaderValue.TryParse(ct0, out var parsed)
            ? parsed.MediaType.Value
            : null;
        if (mediaType is null || !(mediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase) || mediaType.EndsWith("+json", StringComparison.OrdinalIgnoreCase)))
        {
            throw new UnacceptableBodyException(StatusCodes.Status415UnsupportedMediaType,
                $"Send the body as application/json (got '{request.ContentType ?? "no Content-Type"}').");
        }

        if (request.ContentLength > maxBytes)
        {
            throw new UnacceptableBodyException(StatusCodes.Status413PayloadTooLarge, $"The body is {request.ContentLength} bytes; the limit here is {maxBytes}.");
        }

        if (request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = maxBytes;
        }

        try
        {
            return await JsonDocument.ParseAsync(request.Body, new JsonDocumentOptions { MaxDepth = IngestionLimits.MaxJsonDepth }, ct);
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            throw new UnacceptableBodyException(StatusCodes.Status413PayloadTooLarge, $"The body is larger than the limit here ({maxBytes} bytes).");
        }
        catch (JsonException e)
        {
            var field = string.IsNullOrEmpty(e.Path) || e.Path == "$" ? "$" : e.Path.TrimStart('$', '.');
            var reason = e.Message.Contains("depth", StringComparison.OrdinalIgnoreCase)
                ? $"JSON nested deeper than {IngestionLimits.MaxJsonDepth} levels."
                : $"Malformed JSON at line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}.";
            throw new InputValidationException([new FieldError(field, reason)]);
        }
    }
}
