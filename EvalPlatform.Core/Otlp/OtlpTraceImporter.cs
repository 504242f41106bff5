using EvalPlatform.Core.Assembly;
using EvalPlatform.Core.Ingestion;
using EvalPlatform.Core.Traces;

namespace EvalPlatform.Core.Otlp;

/// <summary>The limits of the OTLP endpoint (the body limit is the batch API's, <see cref="IngestionLimits.MaxBatchBytes"/>).</summary>
public static class OtlpLimits
{
    /// <summary>The most spans one export may carry; a larger export is refused whole (400). Exporters send 512 by default.</summary>
    public const int MaxSpansPerRequest = 10_000;

    /// <summary>How many rejected spans the partial-success message names (it gives the total count as well).</summary>
    public const int MaxErrorsListed = 10;
}

/// <summary>What an export came to: spans stored (or already stored), spans rejected, and why.</summary>
public sealed record OtlpImportResult(int Accepted, int Rejected, string? ErrorMessage);

/// <summary>
/// Imports one OTLP export for the current team: maps its spans (<see cref="OtlpSpanMapper"/>) and hands
/// them to <see cref="TraceAssembler"/>, which merges them into traces by trace id across exports. Spans
/// with bad ids or invalid fields are skipped and reported (OTLP's partial success); the rest are stored.
/// </summary>
public sealed class OtlpTraceImporter(TraceAssembler assembler)
{
    public async Task<OtlpImportResult> ImportAsync(OtlpExportRequest request, string? projectName, CancellationToken ct = default)
    {
        var count = request.SpanCount;
        if (count > OtlpLimits.MaxSpansPerRequest)
        {
            throw new InputValidationException([new FieldError("resourceSpans",
                $"An export may carry at most {OtlpLimits.MaxSpansPerRequest} spans (got {count}); lower the exporter's batch size.")]);
        }

        var mapping = OtlpSpanMapper.Map(request, projectName);
        var errors = new List<FieldError>(mapping.Rejected);
        var accepted = 0;
        var rejected = mapping.Rejected.Count;
        if (mapping.Records.Count > 0)
        {
            var result = await assembler.AssembleAsync(mapping.Records, ct);
            errors.AddRange(result.Errors);
            rejected += result.Rejected;
            accepted = result.Spans.Count - result.Rejected;
        }

        return new OtlpImportResult(accepted, rejected, rejected == 0 ? null : Describe(rejected, errors));
    }

    private static string Describe(int rejected, List<FieldError> errors)
    {
        var listed = string.Join("; ", errors.Take(OtlpLimits.MaxErrorsListed).Select(e => $"{e.Field}: {e.Message}"));
        var more = errors.Count > OtlpLimits.MaxErrorsListed ? $"; and {errors.Count - OtlpLimits.MaxErrorsListed} more" : "";
        return $"{rejected} span{(rejected == 1 ? "" : "s")} rejected: {listed}{more}.";
    }
}
