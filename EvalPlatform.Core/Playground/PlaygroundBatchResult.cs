using EvalPlatform.Core.Tenancy;

namespace EvalPlatform.Core.Playground;

/// <summary>
/// What one configuration of a playground batch answered for one original trace: stored beside the original (its id) for
/// comparison, once per run, trace and configuration (a repeated chunk replaces it). A refused or impossible call is a row
/// with its <see cref="Error"/>, so a batch's table shows every cell.
/// </summary>
public sealed class PlaygroundBatchResult : ITeamOwned
{
    public Guid Id { get; set; }
    public Guid TeamId { get; set; }

    /// <summary>The batch run (kind <c>playground</c>) that made it.</summary>
    public Guid BatchRunId { get; set; }

    /// <summary>The original trace whose values filled the prompt.</summary>
    public Guid TraceId { get; set; }

    /// <summary>The trace's place in the run (0-based), for paging the comparison in the run's order.</summary>
    public int Position { get; set; }

    /// <summary>Which configuration (0-based index into the run's configurations).</summary>
    public int Configuration { get; set; }

    /// <summary>The model that answered (the provider's name for it), or the configured one when the call failed.</summary>
    public string? Model { get; set; }

    /// <summary>The answer's text (what arrived, when the call failed midway); at most <see cref="PlaygroundService.MaxTextLength"/>.</summary>
    public string Text { get; set; } = "";

    public string? Error { get; set; }
    public int? ErrorStatus { get; set; }
    public int? InputTokens { get; set; }
    public int? OutputTokens { get; set; }
    public decimal? Cost { get; set; }
    public double LatencyMs { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
}
