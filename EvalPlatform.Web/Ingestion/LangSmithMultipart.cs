using System.Text.Json;
using System.Text.Json.Nodes;
using EvalPlatform.Core.Ingestion;
using EvalPlatform.Core.LangSmith;
using EvalPlatform.Core.Traces;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;

namespace EvalPlatform.Web.Ingestion;

/// <summary>
/// Reads a LangSmith <c>/runs/multipart</c> body (the SDK's <c>serialized_run_operation_to_multipart_parts_and_context</c>):
/// <c>post.{id}</c> / <c>patch.{id}</c> (the run without its large fields), <c>post.{id}.inputs|outputs|events|extra|error|serialized</c>,
/// <c>attachment.{id}.{name}</c> and <c>feedback.{id}</c>. Streamed section by section with size limits. A part that
/// cannot be used (malformed JSON, an unknown name, a field for a run that is nowhere) is skipped and reported under
/// its name, never the request: the SDK drops a whole batch on any 4xx (issue 20). Only a body that cannot be read as
/// multipart, or that is over the size limits, is refused whole.
/// </summary>
public sealed class LangSmithMultipart
{
    private static readonly HashSet<string> FieldParts = ["inputs", "outputs", "events", "extra", "error", "serialized"];

    private readonly List<(string Name, bool IsPatch, string RunId, JsonObject Run)> _mains = [];
    private readonly List<(string Name, bool IsPatch, string RunId, string Field, JsonNode? Value)> _fields = [];
    private readonly List<(string Name, string RunId, RunAttachment File)> _attachments = [];
    private readonly List<FeedbackOperation> _feedback = [];
    private readonly List<FieldError> _refused = [];

    public static async Task<LangSmithMultipart> ReadAsync(HttpRequest request, CancellationToken ct)
    {
        var boundary = Boundary(request);
        if (request.Headers.ContentEncoding.Count > 0 && !string.Equals(request.Headers.ContentEncoding.ToString(), "identity", StringComparison.OrdinalIgnoreCase))
        {
            throw new UnacceptableBodyException(StatusCodes.Status415UnsupportedMediaType,
                $"Content-Encoding '{request.Headers.ContentEncoding}' is not supported here (GET /info says zstd_compression_enabled: false).");
        }

        JsonBody.LimitSize(request, LangSmithLimits.MaxBodyBytes);

        var result = new LangSmithMultipart();
        var reader = new MultipartReader(boundary, request.Body) { BodyLengthLimit = LangSmithLimits.MaxPartBytes, HeadersLengthLimit = 16 * 1024 };
        var names = new HashSet<string>(StringComparer.Ordinal);
        long total = 0;
        try
        {
            while (await reader.ReadNextSectionAsync(ct) is { } section)
            {
                if (names.Count >= LangSmithLimits.MaxParts)
                {
                    throw TooLarge($"More than {LangSmithLimits.MaxParts} parts in one request.");
                }

                var name = PartName(section);
                if (name is null)
                {
                    result._refused.Add(new FieldError($"part[{names.Count}]", "A part without a Content-Disposition name."));
                    await section.Body.CopyToAsync(Stream.Null, ct);
                    continue;
                }

                if (!names.Add(name))
                {
                    result._refused.Add(new FieldError(name, "This part was sent twice."));
                    await section.Body.CopyToAsync(Stream.Null, ct);
                    continue;
                }

                total += await result.ReadPartAsync(name, section, ct);
                if (total > LangSmithLimits.MaxBodyBytes)
                {
                    throw TooLarge($"The parts add up to more than {LangSmithLimits.MaxBodyBytes} bytes.");
                }
            }
        }
        catch (InvalidDataException e) when (e.Message.Contains("exceeded", StringComparison.OrdinalIgnoreCase))
        {
            throw TooLarge($"A part is larger than the limit here ({LangSmithLimits.MaxPartBytes} bytes).");
        }
        catch (InvalidDataException e)
        {
            throw new InputValidationException([new FieldError("$", "Malformed multipart body: " + e.Message)]);
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            throw TooLarge($"The body is larger than the limit here ({LangSmithLimits.MaxBodyBytes} bytes).");
        }

        if (names.Count == 0)
        {
            throw new InputValidationException([new FieldError("$", "No parts: send post.{run_id}, patch.{run_id} or feedback.{id} parts.")]);
        }

        return result;
    }

    /// <summary>
    /// The run operations, large fields put back into their run, and the parts skipped (by name, with the reason).
    /// A field or attachment part for a run with no <c>post.{id}</c>/<c>patch.{id}</c> in this request updates that
    /// run when it is already stored (a patch); otherwise it is skipped.
    /// </summary>
    public async Task<(List<RunOperation> Runs, List<FeedbackOperation> Feedback, List<FieldError> Refused)> ToOperationsAsync(
        LangSmithIngestion ingestion, CancellationToken ct)
    {
        var ops = new Dictionary<(bool, string), RunOperation>();
        var runs = new List<RunOperation>();
        foreach (var (name, isPatch, runId, run) in _mains)
        {
            var op = new RunOperation(isPatch, run, name, runId);
            ops[(isPatch, runId)] = op;
            runs.Add(op);
        }

        var orphans = _fields.Where(f => Find(f.IsPatch, f.RunId) is null).Select(f => (f.Name, f.RunId))
            .Concat(_attachments.Where(a => Find(false, a.RunId) is null).Select(a => (a.Name, a.RunId))).ToList();
        var stored = orphans.Count == 0 ? [] : await ingestion.FindStoredRunsAsync(orphans.Select(o => o.RunId).ToList(), ct);
        var skipped = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, runId) in orphans)
        {
            if (!stored.TryGetValue(runId, out var traceKey))
            {
                _refused.Add(new FieldError(name, $"No post.{runId} or patch.{runId} in this request, and no run {runId} is stored in this team."));
                skipped.Add(name);
            }
            else if (!ops.ContainsKey((true, runId)))
            {
                var op = new RunOperation(true, new JsonObject { ["id"] = runId, ["trace_id"] = traceKey }, name, runId);
                ops[(true, runId)] = op;
                runs.Add(op);
            }
        }

        foreach (var (_, isPatch, runId, field, value) in _fields.Where(f => !skipped.Contains(f.Name)))
        {
            Find(isPatch, runId)!.Run[field] = value;
        }

        foreach (var (_, runId, file) in _attachments.Where(a => !skipped.Contains(a.Name)))
        {
            Find(false, runId)!.Attachments.Add(file);
        }

        return (runs, _feedback, _refused);

        // The operation a part belongs to: its own kind first, else the run's other operation in this request.
        RunOperation? Find(bool isPatch, string runId) =>
            ops.GetValueOrDefault((isPatch, runId)) ?? ops.GetValueOrDefault((!isPatch, runId));
    }

    private async Task<long> ReadPartAsync(string name, MultipartSection section, CancellationToken ct)
    {
        var segments = name.Split('.');
        var kind = segments[0];
        var idOk = segments.Length >= 2 && Guid.TryParse(segments[1], out _);
        var runId = idOk ? Guid.Parse(segments[1]).ToString("D") : "";
        switch (kind)
        {
            case "post" or "patch" when idOk && segments.Length == 2:
                if (await ReadJsonAsync(name, section, ct) is var (main, size))
                {
                    if (main is JsonObject run)
                    {
                        _mains.Add((name, kind == "patch", runId, run));
                    }
                    else
                    {
                        _refused.Add(new FieldError(name, "The run part must be a JSON object."));
                    }

                    return size;
                }

                return 0;
            case "post" or "patch" when idOk && segments.Length == 3 && FieldParts.Contains(segments[2]):
                if (await ReadJsonAsync(name, section, ct) is var (value, fieldSize))
                {
                    _fields.Add((name, kind == "patch", runId, segments[2], value));
                    return fieldSize;
                }

                return 0;
            case "attachment" when idOk && segments.Length == 3 && segments[2].Length > 0:
                return await ReadAttachmentAsync(name, runId, segments[2], section, ct);
            case "feedback" when idOk && segments.Length == 2:
                if (await ReadJsonAsync(name, section, ct) is var (feedback, feedbackSize))
                {
                    if (feedback is JsonObject f)
                    {
                        _feedback.Add(new FeedbackOperation(f, name));
                    }
                    else
                    {
                        _refused.Add(new FieldError(name, "A feedback part must be a JSON object."));
                    }

                    return feedbackSize;
                }

                return 0;
            default:
                _refused.Add(new FieldError(name, idOk && kind is "post" or "patch"
                    ? $"Unknown run field '{string.Join('.', segments.Skip(2))}': parts are post|patch.{{id}}[.inputs|.outputs|.events|.extra|.error|.serialized]."
                    : "Unknown part: expected post.{run_id}, patch.{run_id}, post|patch.{run_id}.<field>, attachment.{run_id}.{name} or feedback.{id} (ids are UUIDs)."));
                await section.Body.CopyToAsync(Stream.Null, ct);
                return 0;
        }
    }

    /// <summary>The part's JSON; a malformed part is reported under its name (null), so every part is checked in one pass.</summary>
    private async Task<(JsonNode? Value, long Size)?> ReadJsonAsync(string name, MultipartSection section, CancellationToken ct)
    {
        using var buffer = new MemoryStream();
        await section.Body.CopyToAsync(buffer, ct);
        try
        {
            var node = JsonNode.Parse(buffer.GetBuffer().AsSpan(0, (int)buffer.Length), documentOptions: new JsonDocumentOptions { MaxDepth = IngestionLimits.MaxJsonDepth });
            return (node, buffer.Length);
        }
        catch (JsonException e)
        {
            _refused.Add(new FieldError(name, e.Message.Contains("depth", StringComparison.OrdinalIgnoreCase)
                ? $"JSON nested deeper than {IngestionLimits.MaxJsonDepth} levels."
                : $"Malformed JSON at line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}."));
            return null;
        }
    }

    /// <summary>Streams the attachment: its size is always counted; its bytes are kept only when small (ADR 10).</summary>
    private async Task<long> ReadAttachmentAsync(string name, string runId, string fileName, MultipartSection section, CancellationToken ct)
    {
        var contentType = section.ContentType is { } type && MediaTypeHeaderValue.TryParse(type, out var parsed) ? parsed.MediaType.Value ?? type : "application/octet-stream";
        var kept = new MemoryStream();
        var chunk = new byte[16 * 1024];
        long length = 0;
        int read;
        while ((read = await section.Body.ReadAsync(chunk, ct)) > 0)
        {
            if (length + read <= LangSmithLimits.MaxInlineAttachmentBytes)
            {
                kept.Write(chunk, 0, read);
            }

            length += read;
        }

        _attachments.Add((name, runId, new RunAttachment(fileName, contentType, length, length <= LangSmithLimits.MaxInlineAttachmentBytes ? kept.ToArray() : null)));
        return length;
    }

    private static string? PartName(MultipartSection section) =>
        ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var disposition)
        && HeaderUtilities.RemoveQuotes(disposition.Name).Value is { Length: > 0 } name
            ? name
            : null;

    private static string Boundary(HttpRequest request)
    {
        if (request.ContentType is not { } type || !MediaTypeHeaderValue.TryParse(type, out var media)
            || !string.Equals(media.MediaType.Value, "multipart/form-data", StringComparison.OrdinalIgnoreCase))
        {
            throw new UnacceptableBodyException(StatusCodes.Status415UnsupportedMediaType,
                $"Send the body as multipart/form-data (got '{request.ContentType ?? "no Content-Type"}').");
        }

        var boundary = HeaderUtilities.RemoveQuotes(media.Boundary).Value;
        return string.IsNullOrEmpty(boundary)
            ? throw new InputValidationException([new FieldError("Content-Type", "multipart/form-data needs a boundary.")])
            : boundary;
    }

    private static UnacceptableBodyException TooLarge(string message) => new(StatusCodes.Status413PayloadTooLarge, message);
}
