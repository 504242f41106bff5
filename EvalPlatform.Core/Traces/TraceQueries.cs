using System.Runtime.CompilerServices;
using System.Text;
using EvalPlatform.Core.Common;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Scores;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using Microsoft.EntityFrameworkCore;

namespace EvalPlatform.Core.Traces;

/// <summary>
/// What the list may be filtered by; every field optional. Times filter on the trace's start.
/// <see cref="Reason"/> is a rejection reason's key; <see cref="Reviewer"/> is who made the latest
/// review change: a member's e-mail, a user id, or "api-key:{id}"; scores filter the human score. <see cref="Model"/> matches
/// partially and without case ("gpt" finds gpt-4o); the other text fields match exactly.
/// </summary>
public sealed record TraceFilter(
    DateTimeOffset? From = null, DateTimeOffset? To = null, ReviewStatus? Status = null, string? Model = null, string? Provider = null,
    string? Tag = null, string? Environment = null, string? SessionId = null, string? UserId = null, string? Experiment = null,
    string? Variant = null, string? Search = null, string? Reason = null, string? Reviewer = null, double? Score = null,
    double? ScoreMin = null, double? ScoreMax = null);

/// <summary>The filter fields whose values <see cref="TraceQueries.SuggestAsync"/> suggests.</summary>
public enum TraceSuggestionField
{
    Model,
    Environment,
    Tag,
    User,
}

/// <summary>A list row.</summary>
public sealed record TraceListItem(
    Guid Id, string? ExternalId, string? Name, string? Model, string? Provider, string? InputPreview, string? OutputPreview,
    double? LatencyMs, int? PromptTokens, int? CompletionTokens, int? TotalTokens, decimal? Cost, string? Error, IReadOnlyList<string> Tags,
    string? Environment, string? SessionId, string? UserId, string? Experiment, string? Variant, ReviewStatus ReviewStatus,
    DateTimeOffset StartedAt, DateTimeOffset? EndedAt, DateTimeOffset CreatedAt, string? ReviewReason = null, double? HumanScore = null,
    string? ReviewedBy = null, DateTimeOffset? ReviewedAt = null);

public sealed record TracePage(IReadOnlyList<TraceListItem> Items, string? NextCursor);

/// <summary>A trace as exported: all its fields and its spans in order.</summary>
/// <summary>An exported trace: its spans, and the name of who made its current review (null when unreviewed).</summary>
public sealed record TraceExportItem(Trace Trace, IReadOnlyList<Span> Spans, string? ReviewedByName = null);

/// <summary>A whole trace: its fields, its span tree (in order) and its scores.</summary>
public sealed record TraceDetail(Trace Trace, IReadOnlyList<Span> Spans, IReadOnlyList<Score> Scores);

/// <summary>Reads the current team's traces. Keyset paging: newest first, a cursor instead of offsets.</summary>
public sealed class TraceQueries(IEvalDbContextFactory dbFactory, ITeamContext team, IMemberDirectory members)
{
    public const int MaxPageSize = 200;

    /// <summary>Traces read per query while exporting: memory stays bounded whatever the export's size.</summary>
    public const int ExportPageSize = 500;

    public async Task<TracePage> ListAsync(TraceFilter filter, string? cursor, int limit, CancellationToken ct = default)
    {
        RequireView();
        var after = cursor is null ? null : DecodeCursor(cursor);
        filter = await ResolveReviewerAsync(filter, ct);
        await using var db = await dbFactory.CreateAsync(ct);
        var query = Apply(db.Traces.AsNoTracking(), filter);
        if (after is not null)
        {
            // EF translates only this two-argument form (to SQL '<'); sort keys are ASCII digits and hex.
#pragma warning disable CA1309
            query = query.Where(t => string.Compare(t.SortKey, after) < 0);
#pragma warning restore CA1309
        }

        var rows = await query
            .OrderByDescending(t => t.SortKey)
            .Take(limit + 1)
            .Select(t => new
            {
                Item = new TraceListItem(t.Id, t.ExternalId, t.Name, t.Model, t.Provider, t.InputPreview, t.OutputPreview, t.LatencyMs,
                    t.PromptTokens, t.CompletionTokens, t.TotalTokens, t.Cost, t.Error, t.Tags, t.Environment, t.SessionId, t.UserId,
                    t.Experiment, t.Variant, t.ReviewStatus, t.StartedAt, t.EndedAt, t.CreatedAt, t.ReviewReason, t.HumanScore,
                    t.ReviewedBy, t.ReviewedAt),
                t.SortKey,
            })
            .ToListAsync(ct);
        var next = rows.Count > limit ? EncodeCursor(rows[limit - 1].SortKey) : null;
        return new TracePage(rows.Take(limit).Select(r => r.Item).ToList(), next);
    }

    /// <summary>
    /// Every trace the filter gives, newest first, with its spans, for export. Read page by page
    /// (<see cref="ExportPageSize"/> traces and their spans per query, each on a fresh context),
    /// so a 100,000-trace export holds one page at a time and no transaction stays open while
    /// the client downloads. The permission is checked here, before anything is read.
    /// </summary>
    public IAsyncEnumerable<TraceExportItem> ExportAsync(TraceFilter filter, CancellationToken ct = default)
    {
        RequireView();
        return ExportPagesAsync(filter, ct);
    }

    private async IAsyncEnumerable<TraceExportItem> ExportPagesAsync(TraceFilter filter, [EnumeratorCancellation] CancellationToken ct)
    {
        filter = await ResolveReviewerAsync(filter, ct);
        string? after = null;
        while (true)
        {
            await using var db = await dbFactory.CreateAsync(ct);
            var query = Apply(db.Traces.AsNoTracking(), filter);
            if (after is not null)
            {
#pragma warning disable CA1309 // EF translates only the two-argument form; sort keys are ASCII.
                query = query.Where(t => string.Compare(t.SortKey, after) < 0);
#pragma warning restore CA1309
            }

            var page = await query.OrderByDescending(t => t.SortKey).Take(ExportPageSize).ToListAsync(ct);
            var ids = page.Select(t => t.Id).ToList();
            var spans = (await db.Spans.AsNoTracking().Where(s => ids.Contains(s.TraceId)).ToListAsync(ct))
                .OrderBy(s => s.Position).ToLookup(s => s.TraceId);
            // The reviewer's name as the review API gives it (reviewed_by_name): the one recorded on the change that made the review.
            var reviewed = page.Where(t => t.ReviewVersion > 0).Select(t => t.Id).ToList();
            var changes = reviewed.Count == 0 ? [] : await db.ReviewChanges.AsNoTracking().Where(c => reviewed.Contains(c.TraceId))
                .Select(c => new { c.TraceId, c.Version, c.ActorName }).ToListAsync(ct);
            var names = changes.ToLookup(c => c.TraceId);
            foreach (var trace in page)
            {
                var name = names[trace.Id].FirstOrDefault(c => c.Version == trace.ReviewVersion)?.ActorName;
                yield return new TraceExportItem(trace, spans[trace.Id].ToList(), name);
            }

            if (page.Count < ExportPageSize)
            {
                yield break;
            }

            after = page[^1].SortKey;
        }
    }

    /// <summary>One list row, whatever the filters: what an open list shows again when that trace changes. Null when gone.</summary>
    public async Task<TraceListItem?> GetListItemAsync(Guid id, CancellationToken ct = default)
    {
        RequireView();
        await using var db = await dbFactory.CreateAsync(ct);
        return await db.Traces.AsNoTracking().Where(t => t.Id == id)
            .Select(t => new TraceListItem(t.Id, t.ExternalId, t.Name, t.Model, t.Provider, t.InputPreview, t.OutputPreview, t.LatencyMs,
                t.PromptTokens, t.CompletionTokens, t.TotalTokens, t.Cost, t.Error, t.Tags, t.Environment, t.SessionId, t.UserId,
                t.Experiment, t.Variant, t.ReviewStatus, t.StartedAt, t.EndedAt, t.CreatedAt, t.ReviewReason, t.HumanScore,
                t.ReviewedBy, t.ReviewedAt))
            .SingleOrDefaultAsync(ct);
    }

    public async Task<TraceDetail> GetAsync(Guid id, CancellationToken ct = default)
    {
        RequireView();
        await using var db = await dbFactory.CreateAsync(ct);
        var trace = await db.Traces.AsNoTracking().SingleOrDefaultAsync(t => t.Id == id, ct)
            ?? throw new NotFoundException($"No trace {id} in this team.");
        var spans = await db.Spans.AsNoTracking().Where(s => s.TraceId == id).OrderBy(s => s.Position).ToListAsync(ct);
        var scores = await db.Scores.AsNoTracking().Where(s => s.TraceId == id).OrderBy(s => s.CreatedAt).ToListAsync(ct);
        return new TraceDetail(trace, spans, scores);
    }

    /// <summary>
    /// The traces just newer and just older than <paramref name="id"/> in the list the filter
    /// gives (Previous / Next in the trace view); null at either end.
    /// </summary>
    public async Task<(Guid? Newer, Guid? Older)> GetNeighboursAsync(Guid id, TraceFilter filter, CancellationToken ct = default)
    {
        RequireView();
        filter = await ResolveReviewerAsync(filter, ct);
        await using var db = await dbFactory.CreateAsync(ct);
        var key = await db.Traces.Where(t => t.Id == id).Select(t => t.SortKey).SingleOrDefaultAsync(ct)
            ?? throw new NotFoundException($"No trace {id} in this team.");
        var list = Apply(db.Traces.AsNoTracking(), filter);
#pragma warning disable CA1309 // EF translates only the two-argument form; sort keys are ASCII.
        var newer = await list.Where(t => string.Compare(t.SortKey, key) > 0).OrderBy(t => t.SortKey).Select(t => (Guid?)t.Id).FirstOrDefaultAsync(ct);
        var older = await list.Where(t => string.Compare(t.SortKey, key) < 0).OrderByDescending(t => t.SortKey).Select(t => (Guid?)t.Id).FirstOrDefaultAsync(ct);
#pragma warning restore CA1309
        return (newer, older);
    }

    /// <summary>Traces a suggestion reads (the newest): enough to know the team's values, bounded whatever the team's size.</summary>
    public const int SuggestionWindow = 2_000;

    /// <summary>
    /// The team's own values of <paramref name="field"/> among its newest <see cref="SuggestionWindow"/> traces that contain
    /// <paramref name="term"/> without regard to case (all of them when the term is blank), sorted, at most <paramref name="limit"/>.
    /// Filled into the filter fields' suggestions, so a reviewer picks "gpt-4o" instead of remembering how it was spelled.
    /// </summary>
    public async Task<IReadOnlyList<string>> SuggestAsync(TraceSuggestionField field, string? term, int limit = 20, CancellationToken ct = default)
    {
        RequireView();
        limit = Math.Clamp(limit, 1, 100);
        await using var db = await dbFactory.CreateAsync(ct);
        var recent = db.Traces.AsNoTracking().OrderByDescending(t => t.SortKey).Take(SuggestionWindow);
        var lower = string.IsNullOrWhiteSpace(term) ? null : term.Trim().ToLowerInvariant();
        if (field == TraceSuggestionField.Tag)
        {
            // Flattened here: SQLite cannot expand a primitive collection after a LIMIT (no APPLY); a few thousand short lists.
            var lists = await recent.Select(t => t.Tags).ToListAsync(ct);
            return lists.SelectMany(tags => tags).Where(tag => tag.Length > 0 && (lower is null || tag.Contains(lower, StringComparison.OrdinalIgnoreCase)))
                .Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).Take(limit).ToList();
        }

        var values = field switch
        {
            TraceSuggestionField.Model => recent.Select(t => t.Model),
            TraceSuggestionField.Environment => recent.Select(t => t.Environment),
            TraceSuggestionField.User => recent.Select(t => t.UserId),
            _ => throw new DomainValidationException("field", "One of model, environment, tag, user."),
        };
        var distinct = values.Where(v => v != null && v != "").Distinct();
        if (lower is not null)
        {
#pragma warning disable CA1304, CA1311, CA1862 // translated to SQL lower(); the culture overloads are not translatable.
            distinct = distinct.Where(v => v!.ToLower().Contains(lower));
#pragma warning restore CA1304, CA1311, CA1862
        }

        var found = await distinct.OrderBy(v => v).Take(limit).ToListAsync(ct);
        return found.Select(v => v!).ToList();
    }

    /// <summary>The trace list's filters, the one definition of each (analytics reads raw traces through it too).</summary>
    public static IQueryable<Trace> Apply(IQueryable<Trace> query, TraceFilter f)
    {
        if (f.From is { } from)
        {
            query = query.Where(t => t.StartedAt >= from);
        }

        if (f.To is { } to)
        {
            query = query.Where(t => t.StartedAt < to);
        }

        if (f.Status is { } status)
        {
            query = query.Where(t => t.ReviewStatus == status);
        }

        if (!string.IsNullOrWhiteSpace(f.Model))
        {
            // Partial and without case ("GPT-4o" and "gpt" both find gpt-4o): lower() on both databases (ASCII model names).
            var model = f.Model.Trim().ToLowerInvariant();
#pragma warning disable CA1304, CA1311, CA1862 // translated to SQL lower(); the culture overloads are not translatable.
            query = query.Where(t => t.Model != null && t.Model.ToLower().Contains(model));
#pragma warning restore CA1304, CA1311, CA1862
        }

        if (f.Provider is { } provider)
        {
            query = query.Where(t => t.Provider == provider);
        }

        if (f.Tag is { } tag)
        {
            query = query.Where(t => t.Tags.Contains(tag));
        }

        if (f.Environment is { } environment)
        {
            query = query.Where(t => t.Environment == environment);
        }

        if (f.SessionId is { } session)
        {
            query = query.Where(t => t.SessionId == session);
        }

        if (f.UserId is { } user)
        {
            query = query.Where(t => t.UserId == user);
        }

        if (f.Experiment is { } experiment)
        {
            query = query.Where(t => t.Experiment == experiment);
        }

        if (f.Variant is { } variant)
        {
            query = query.Where(t => t.Variant == variant);
        }

        if (f.Reason is { } reason)
        {
            query = query.Where(t => t.ReviewReason == reason);
        }

        if (f.Reviewer is { } reviewer)
        {
            query = query.Where(t => t.ReviewedBy == reviewer);
        }

        if (f.Score is { } score)
        {
            query = query.Where(t => t.HumanScore == score);
        }

        if (f.ScoreMin is { } min)
        {
            query = query.Where(t => t.HumanScore >= min);
        }

        if (f.ScoreMax is { } max)
        {
            query = query.Where(t => t.HumanScore <= max);
        }

        if (!string.IsNullOrWhiteSpace(f.Search))
        {
            // LIKE with the term's wildcards escaped, on both providers: PostgreSQL answers it from the trigram index
            // (ADR 50), which a strpos() or instr() translation of Contains could not use.
            var pattern = "%" + EscapeLike(f.Search.Trim().ToLowerInvariant()) + "%";
            query = query.Where(t => t.SearchText != null && EF.Functions.Like(t.SearchText, pattern, LikeEscape));
        }

        return query;
    }

    private const string LikeEscape = "\\";

    private static string EscapeLike(string term) =>
        term.Replace(LikeEscape, LikeEscape + LikeEscape, StringComparison.Ordinal)
            .Replace("%", LikeEscape + "%", StringComparison.Ordinal)
            .Replace("_", LikeEscape + "_", StringComparison.Ordinal);

    public static string EncodeCursor(string sortKey) =>
        Convert.ToBase64String(Encoding.ASCII.GetBytes(sortKey)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public static string DecodeCursor(string cursor)
    {
        try
        {
            var b64 = cursor.Replace('-', '+').Replace('_', '/');
            b64 = b64.PadRight(b64.Length + ((4 - (b64.Length % 4)) % 4), '=');
            var key = Encoding.ASCII.GetString(Convert.FromBase64String(b64));
            if (key.Length == 51 && key.All(char.IsAsciiHexDigitLower) && key[..19].All(char.IsAsciiDigit))
            {
                return key;
            }
        }
        catch (FormatException)
        {
        }

        throw new DomainValidationException("cursor", "Not a cursor this API gave out; pass next_cursor unchanged.");
    }

    /// <summary>A reviewer given by e-mail becomes the member's user id (an unknown e-mail matches nothing).</summary>
    private Task<TraceFilter> ResolveReviewerAsync(TraceFilter filter, CancellationToken ct) => ResolveReviewerAsync(filter, members, ct);

    /// <inheritdoc cref="ResolveReviewerAsync(TraceFilter, CancellationToken)"/>
    internal static async Task<TraceFilter> ResolveReviewerAsync(TraceFilter filter, IMemberDirectory members, CancellationToken ct) =>
        filter.Reviewer is { } reviewer && reviewer.Contains('@', StringComparison.Ordinal)
            ? filter with { Reviewer = await members.FindUserIdByEmailAsync(reviewer, ct) ?? reviewer }
            : filter;

    private void RequireView()
    {
        if (!team.Can(Permission.ViewTraces))
        {
            throw new PermissionDeniedException("Reading traces needs an API key with the 'read' scope.");
        }
    }
}
