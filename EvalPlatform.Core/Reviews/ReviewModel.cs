using EvalPlatform.Core.Tenancy;
using EvalPlatform.Core.Traces;

namespace EvalPlatform.Core.Reviews;

/// <summary>How a team's reviewers score a trace.</summary>
public enum ScoreScale
{
    /// <summary>Good (1) or bad (0); accepting scores good and rejecting scores bad.</summary>
    GoodBad = 0,

    /// <summary>A whole number from 1 to 5.</summary>
    OneToFive = 1,

    /// <summary>Any number from 0 to 1.</summary>
    ZeroToOne = 2,
}

/// <summary>What one review change did.</summary>
public enum ReviewAction
{
    Accept = 0,
    Reject = 1,
    NeedsReview = 2,

    /// <summary>Back to pending: verdict, reason, detail and score cleared (the note stays).</summary>
    Reset = 3,

    /// <summary>Score or note changed without a verdict.</summary>
    Edit = 4,

    /// <summary>Took back the actor's own latest change (<see cref="ReviewChange.UndoneVersion"/>).</summary>
    Undo = 5,
}

/// <summary>A team's review settings. Created with the defaults the first time the team's settings are read.</summary>
public sealed class ReviewSettings : ITeamOwned
{
    public Guid TeamId { get; set; }
    public ScoreScale ScoreScale { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
}

/// <summary>One of a team's rejection reasons, in the team's order.</summary>
public sealed class RejectionReason : ITeamOwned
{
    public Guid Id { get; set; }
    public Guid TeamId { get; set; }

    /// <summary>Stable snake_case key (from the first label), stored on rejected traces and used by the API; never changes.</summary>
    public required string Key { get; set; }

    public required string Label { get; set; }
    public string? Description { get; set; }

    /// <summary>0-based order; reviewers pick the first nine with the keys 1–9.</summary>
    public int Position { get; set; }

    public DateTimeOffset CreatedAt { get; set; }
}

/// <summary>
/// One row of a trace's review history: who changed what, from which state to which, when. Rows
/// are only ever appended; <see cref="Version"/> numbers a trace's changes 1, 2, 3… and is unique
/// per trace, which is also what makes two concurrent changes to one trace retry instead of
/// interleaving.
/// </summary>
public sealed class ReviewChange : ITeamOwned
{
    public Guid Id { get; set; }
    public Guid TeamId { get; set; }
    public Guid TraceId { get; set; }
    public int Version { get; set; }
    public ReviewAction Action { get; set; }

    /// <summary>A user id, or "api-key:{id}".</summary>
    public required string ActorId { get; set; }

    /// <summary>The actor as shown at the time (e-mail, or the key's name), kept so history outlives accounts.</summary>
    public required string ActorName { get; set; }

    public DateTimeOffset At { get; set; }

    /// <summary>For <see cref="ReviewAction.Undo"/>: the version whose change was taken back.</summary>
    public int? UndoneVersion { get; set; }

    public ReviewStatus FromStatus { get; set; }
    public ReviewStatus ToStatus { get; set; }
    public string? FromReason { get; set; }
    public string? ToReason { get; set; }
    public string? FromDetail { get; set; }
    public string? ToDetail { get; set; }
    public double? FromScore { get; set; }
    public double? ToScore { get; set; }
    public string? FromNote { get; set; }
    public string? ToNote { get; set; }
}

/// <summary>The reviewable part of a trace at one moment.</summary>
public sealed record ReviewState(ReviewStatus Status, string? Reason, string? Detail, double? Score, string? Note)
{
    public static readonly ReviewState Pending = new(ReviewStatus.Pending, null, null, null, null);

    public static ReviewState Of(Trace t) => new(t.ReviewStatus, t.ReviewReason, t.ReviewDetail, t.HumanScore, t.ReviewNote);

    public static ReviewState Before(ReviewChange c) => new(c.FromStatus, c.FromReason, c.FromDetail, c.FromScore, c.FromNote);

    public static ReviewState After(ReviewChange c) => new(c.ToStatus, c.ToReason, c.ToDetail, c.ToScore, c.ToNote);
}
