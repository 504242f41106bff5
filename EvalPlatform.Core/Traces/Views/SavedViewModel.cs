using EvalPlatform.Core.Tenancy;

namespace EvalPlatform.Core.Traces.Views;

/// <summary>
/// A named trace-list filter with its column set (ADR 46): personal (only its owner sees it) or shared with the team. A shared
/// view is changed by its owner or by whoever holds <see cref="Teams.Permission.ManageSharedViews"/>.
/// </summary>
public sealed class SavedView : ITeamOwned
{
    public Guid Id { get; set; }
    public Guid TeamId { get; set; }
    public required string Name { get; set; }

    /// <summary>Who made it: a user id, or "api-key:{id}".</summary>
    public required string OwnerId { get; set; }

    public bool Shared { get; set; }

    /// <summary>The trace-list filter as JSON (the queues' format, <see cref="Queues.QueueFilterJson"/>); "{}" is every trace.</summary>
    public string FilterJson { get; set; } = "{}";

    /// <summary>The column keys in order, comma-separated (<see cref="TraceListColumns"/>); null keeps the reader's own columns.</summary>
    public string? Columns { get; set; }

    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
}

/// <summary>
/// One person's trace-list columns in one team (their choice and order), kept server-side so it follows them across browsers.
/// One row per (team, owner).
/// </summary>
public sealed class TraceListLayout : ITeamOwned
{
    public Guid Id { get; set; }
    public Guid TeamId { get; set; }

    /// <summary>A user id, or "api-key:{id}".</summary>
    public required string OwnerId { get; set; }

    /// <summary>The column keys in order, comma-separated.</summary>
    public required string Columns { get; set; }

    public DateTimeOffset UpdatedAt { get; set; }
}

/// <summary>A saved view as read: <see cref="CanEdit"/> tells the reader whether they may change or delete it.</summary>
public sealed record SavedViewInfo(
    Guid Id, string Name, bool Shared, string OwnerId, TraceFilter Filter, IReadOnlyList<string>? Columns, bool CanEdit,
    DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

/// <summary>A new view, or all of a view's fields when it is replaced. <see cref="Columns"/> null: the view keeps no columns.</summary>
public sealed record SavedViewInput(string? Name, TraceFilter? Filter, IReadOnlyList<string>? Columns, bool Shared);
