using EvalPlatform.Core.Assembly;
using EvalPlatform.Core.Ingestion;
using EvalPlatform.Core.Tenancy;
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
/// that cannot be read or stored (bad ids, a field of the wrong type, invalid values) are skipped, reported
/// (OTLP's partial success) and counted in the team's ingestion issue log; the rest are stored.
/// </summary>
public sealed class OtlpTraceImporter(TraceAssembler assembler, ITeamContext team, IIngestionIssueLog issueLog)
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
        var errors = new List<FieldError>(request.Unreadable);
        errors.AddRange(mapping.Rejected);
        var issues = errors.Select(e => new IngestionIssueReport(IngestionIssueKind.Refused, SpanField(e.Field), e.Message)).ToList();
        var accepted = 0;
        var rejected = errors.Count;
        if (mapping.Records.Count > 0)
        {
            var result = await assembler.AssembleAsync(mapping.Records, ct);
            errors.AddRange(result.Errors);
            issues.AddRange(result.Issues);
            rejected += result.Rejected;
            accepted = result.Spans.Count - result.Rejected;
        }

        if (team.TeamId is { } teamId)
        {
            issueLog.Record(teamId, IngestionDoor.Otlp, issues);
        }

        return new OtlpImportResult(accepted, rejected, rejected == 0 ? null : Describe(rejected, errors));
    }

    /// <summary>The field of a span's error path: <c>resourceSpans[0].scopeSpans[0].spans[3].traceId</c> is <c>traceId</c>.</summary>
    private static string SpanField(string path)
    {
        var at = path.LastIndexOf("spans[", StringComparison.Ordinal);
        var end = at < 0 ? -1 : path.IndexOf(']', at);
        return end < 0 || end + 2 > path.Length ? "$" : path[(end + 2)..];
    }

    private static string Describe(int rejected, List<FieldError> errors)
    {
        var listed = string.Join("; ", errors.Take(OtlpLimits.MaxErrorsListed).Select(e => $"{e.Field}: {e.Message}"));
        var more = errors.Count > OtlpLimits.MaxErrorsListed ? $"; and {errors.Count - OtlpLimits.MaxErrorsListed} more" : "";
        return $"{rejected} span{(rejected == 1 ? "" : "s")} rejected: {listed}{more}.";
    }
}
