using EvalPlatform.Core.Tenancy;

namespace EvalPlatform.Core.Scores;

/// <summary>A named value on a trace or one of its spans, from a reviewer, code, an evaluator or LangSmith.</summary>
public sealed class Score : ITeamOwned
{
    public Guid Id { get; set; }
    public Guid TeamId { get; set; }
    public Guid TraceId { get; set; }
    public Guid? SpanId { get; set; }
    public required string Name { get; set; }
    public ScoreDataType DataType { get; set; }
    public double? NumericValue { get; set; }
    public string? StringValue { get; set; }
    public ScoreSource Source { get; set; }

    /// <summary>Who gave it: a user id, or "api-key:{id}".</summary>
    public string? Author { get; set; }

    public string? Comment { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
}

public enum ScoreDataType
{
    Numeric = 0,
    Categorical = 1,
    Boolean = 2,
}

public enum ScoreSource
{
    Human = 0,
    Api = 1,
    Evaluator = 2,
    LangSmith = 3,
}
