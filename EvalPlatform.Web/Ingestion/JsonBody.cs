using System.Buffers;
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
    public static async Task<JsonDocument> ReadAsync(HttpRequest request, long maxBytes, CancellationToken ct) =>
        Parse(await ReadBytesAsync(request, maxBytes, ct));

    /// <summary>
    /// The raw body, with the same checks as <see cref="ReadAsync"/> but not yet parsed (a webhook's
    /// signature is over these exact bytes). Valid until the request ends.
    /// </summary>
    public static async Task<ReadOnlyMemory<byte>> ReadBytesAsync(HttpRequest request, long maxBytes, CancellationToken ct)
    {
        var mediaType = request.ContentType is { } ct0 && Microsoft.Net.Http.Headers.MediaTypeHeaderValue.TryParse(ct0, out var parsed)
            ? parsed.MediaType.Value
            : null;
        if (mediaType is null || !(mediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase) || mediaType.EndsWith("+json", StringComparison.OrdinalIgnoreCase)))
        {
            throw new UnacceptableBodyException(StatusCodes.Status415UnsupportedMediaType,
                $"Send the body as application/json (got '{request.ContentType ?? "no Content-Type"}').");
        }

        return await ReadLimitedAsync(request, maxBytes, decode: null, ct);
    }

    /// <summary>
    /// The body into a pooled buffer, at most <paramref name="maxBytes"/> as sent and, when
    /// <paramref name="decode"/> wraps it (decompression), as decoded too: 413 past the limit.
    /// Valid until the request ends.
    /// </summary>
    internal static async Task<ReadOnlyMemory<byte>> ReadLimitedAsync(HttpRequest request, long maxBytes, Func<Stream, Stream>? decode, CancellationToken ct)
    {
        LimitSize(request, maxBytes);
        try
        {
            var decoded = decode?.Invoke(request.Body);
            await using (decoded)
            {
                return await ReadPooledAsync(request, decoded ?? request.Body, maxBytes, ct);
            }
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            throw new UnacceptableBodyException(StatusCodes.Status413PayloadTooLarge, $"The body is larger than the limit here ({maxBytes} bytes).");
        }
    }

    /// <summary>
    /// 413 at once for a declared length past <paramref name="maxBytes"/>; otherwise Kestrel stops
    /// reading past it (a <see cref="BadHttpRequestException"/> with 413 for the reader to map).
    /// </summary>
    internal static void LimitSize(HttpRequest request, long maxBytes)
    {
        if (request.ContentLength > maxBytes)
        {
            throw new UnacceptableBodyException(StatusCodes.Status413PayloadTooLarge, $"The body is {request.ContentLength} bytes; the limit here is {maxBytes}.");
        }

        if (request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = maxBytes;
        }
    }

    /// <summary>
    /// The body (or <paramref name="source"/>, e.g. the body decompressed) into a buffer from the
    /// shared pool, returned to it when the request ends (the document reads from it until then).
    /// A batch body is up to 10 MB: a fresh, growing array per request would land on the large
    /// object heap and cost full garbage collections. More than <paramref name="maxBytes"/> is 413.
    /// </summary>
    private static async Task<ReadOnlyMemory<byte>> ReadPooledAsync(HttpRequest request, Stream source, long maxBytes, CancellationToken ct)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(request.ContentLength is > 0 and < int.MaxValue ? (int)request.ContentLength.Value + 1 : 16 * 1024);
        var length = 0;
        try
        {
            int read;
            while ((read = await source.ReadAsync(buffer.AsMemory(length), ct)) > 0)
            {
                length += read;
                if (length > maxBytes)
                {
                    throw new UnacceptableBodyException(StatusCodes.Status413PayloadTooLarge, $"The body is larger than the limit here ({maxBytes} bytes).");
                }

                if (length == buffer.Length)
                {
                    var larger = ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
                    buffer.AsSpan(0, length).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }
            }
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw;
        }

        request.HttpContext.Response.RegisterForDispose(new PooledBuffer(buffer));
        return buffer.AsMemory(0, length);
    }

    private sealed class PooledBuffer(byte[] buffer) : IDisposable
    {
        public void Dispose() => ArrayPool<byte>.Shared.Return(buffer);
    }

    /// <summary>
    /// Parses already-buffered JSON: malformed JSON is reported with where it broke, too deep a
    /// nesting at the top-level field that holds it.
    /// </summary>
    public static JsonDocument Parse(ReadOnlyMemory<byte> json)
    {
        try
        {
            return JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = IngestionLimits.MaxJsonDepth });
        }
        catch (JsonException e) when (e.Message.Contains("depth", StringComparison.OrdinalIgnoreCase))
        {
            throw new InputValidationException([new FieldError(DeepField(json.Span), $"JSON nested deeper than {IngestionLimits.MaxJsonDepth} levels.")]);
        }
        catch (JsonException e)
        {
            var field = string.IsNullOrEmpty(e.Path) || e.Path == "$" ? "$" : e.Path.TrimStart('$', '.');
            throw new InputValidationException([new FieldError(field, $"Malformed JSON at line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}.")]);
        }
    }

    private static string DeepField(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 4 * IngestionLimits.MaxJsonDepth });
        string? topLevel = null;
        try
        {
            while (reader.Read() && reader.CurrentDepth < IngestionLimits.MaxJsonDepth)
            {
                if (reader.TokenType == JsonTokenType.PropertyName && reader.CurrentDepth == 1)
                {
                    topLevel = reader.GetString();
                }
            }
        }
        catch (JsonException)
        {
            // Deeper still than the scan allows: the top-level field seen so far is the answer.
        }

        return topLevel ?? "$";
    }
}
