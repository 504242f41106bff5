using System.Text.Json;
using EvalPlatform.Core.Common;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Queues;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using Microsoft.EntityFrameworkCore;

namespace EvalPlatform.Core.Traces.Views;

/// <summary>
/// Saved views and each reader's columns, for the current team (ADR 46). Whoever may read traces reads the team's shared views
/// and their own, and makes views of their own (personal or shared). A view is changed or deleted by its owner; a shared one
/// also by whoever holds <see cref="Permission.ManageSharedViews"/> (Admins, Owners, <c>admin</c> keys). Another's personal
/// view does not exist for anyone else (404).
/// </summary>
public sealed class SavedViewService(IEvalDbContextFactory dbFactory, ITeamContext team, TimeProvider clock)
{
    public const int MaxNameLength = 100;

    /// <summary>Views one owner may keep in a team: the picker stays a list, not a dump.</summary>
    public const int MaxViewsPerOwner = 100;

    public async Task<IReadOnlyList<SavedViewInfo>> ListAsync(CancellationToken ct = default)
    {
        var owner = RequireReader();
        await using var db = await dbFactory.CreateAsync(ct);
        var rows = await db.SavedViews.AsNoTracking().Where(v => v.Shared || v.OwnerId == owner).ToListAsync(ct);
        return rows.OrderBy(v => v.Name, StringComparer.OrdinalIgnoreCase).ThenBy(v => v.Id).Select(v => ToInfo(v, owner)).ToList();
    }

    public async Task<SavedViewInfo> GetAsync(Guid id, CancellationToken ct = default)
    {
        var owner = RequireReader();
        await using var db = await dbFactory.CreateAsync(ct);
        return ToInfo(await FindVisibleAsync(db, id, owner, ct), owner);
    }

    public async Task<SavedViewInfo> CreateAsync(SavedViewInput input, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(input);
        var owner = RequireReader();
        var (name, filterJson, columns) = Validate(input);
        await using var db = await dbFactory.CreateAsync(ct);
        await RequireUniqueNameAsync(db, name, owner, except: null, ct);
        if (await db.SavedViews.CountAsync(v => v.OwnerId == owner, ct) >= MaxViewsPerOwner)
        {
            throw new DomainValidationException("name", $"You keep {MaxViewsPerOwner} views already; delete one first.");
        }

        var now = clock.GetUtcNow();
        var row = new SavedView
        {
            Id = Uuid7.Create(now), TeamId = team.TeamId!.Value, Name = name, OwnerId = owner, Shared = input.Shared, FilterJson = filterJson,
            Columns = columns, CreatedAt = now, UpdatedAt = now,
        };
        db.SavedViews.Add(row);
        await db.SaveChangesAsync(ct);
        return ToInfo(row, owner);
    }

    /// <summary>Replaces the view's name, filter, columns and sharing.</summary>
    public async Task<SavedViewInfo> UpdateAsync(Guid id, SavedViewInput input, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(input);
        var owner = RequireReader();
        await using var db = await dbFactory.CreateAsync(ct);
        var row = await FindVisibleAsync(db, id, owner, ct, track: true);
        RequireEdit(row, owner);
        var (name, filterJson, columns) = Validate(input);
        if (row.OwnerId != owner && !input.Shared)
        {
            // An Admin may not take a colleague's view away from the team into the colleague's private list.
            throw new DomainValidationException("shared", "Only the view's owner can make a shared view personal.");
        }

        await RequireUniqueNameAsync(db, name, row.OwnerId, except: row.Id, ct);
        row.Name = name;
        row.FilterJson = filterJson;
        row.Columns = columns;
        row.Shared = input.Shared;
        row.UpdatedAt = clock.GetUtcNow();
        await db.SaveChangesAsync(ct);
        return ToInfo(row, owner);
    }

    public async Task DeleteAsync(Guid id, CancellationToken ct = default)
    {
        var owner = RequireReader();
        await using var db = await dbFactory.CreateAsync(ct);
        var row = await FindVisibleAsync(db, id, owner, ct, track: true);
        RequireEdit(row, owner);
        db.SavedViews.Remove(row);
        await db.SaveChangesAsync(ct);
    }

    /// <summary>The reader's columns in this team, or the default set when they never chose.</summary>
    public async Task<IReadOnlyList<string>> GetColumnsAsync(CancellationToken ct = default)
    {
        var owner = RequireReader();
        await using var db = await dbFactory.CreateAsync(ct);
        var stored = await db.TraceListLayouts.AsNoTracking().Where(l => l.OwnerId == owner).Select(l => l.Columns).FirstOrDefaultAsync(ct);
        return TraceListColumns.Read(stored);
    }

    /// <summary>Keeps the reader's columns (their choice and order); returns them as stored.</summary>
    public async Task<IReadOnlyList<string>> SaveColumnsAsync(IReadOnlyList<string> columns, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(columns);
        var owner = RequireReader();
        var keys = TraceListColumns.Normalize(columns);
        await using var db = await dbFactory.CreateAsync(ct);
        var row = await db.TraceListLayouts.SingleOrDefaultAsync(l => l.OwnerId == owner, ct);
        if (row is null)
        {
            db.TraceListLayouts.Add(new TraceListLayout
            {
                Id = Uuid7.Create(clock.GetUtcNow()), TeamId = team.TeamId!.Value, OwnerId = owner, Columns = TraceListColumns.Write(keys),
                UpdatedAt = clock.GetUtcNow(),
            });
        }
        else
        {
            row.Columns = TraceListColumns.Write(keys);
            row.UpdatedAt = clock.GetUtcNow();
        }

        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException) when (row is null)
        {
            // Two tabs saving the first layout at once: the unique (team, owner) index kept one; this one wins as an update.
            return await SaveColumnsAsync(keys, ct);
        }

        return keys;
    }

    private static (string Name, string FilterJson, string? Columns) Validate(SavedViewInput input)
    {
        var name = input.Name?.Trim();
        if (string.IsNullOrEmpty(name))
        {
            throw new DomainValidationException("name", "A view needs a name.");
        }

        if (name.Length > MaxNameLength)
        {
            throw new DomainValidationException("name", $"At most {MaxNameLength} characters.");
        }

        var filterJson = QueueFilterJson.Write(input.Filter ?? new TraceFilter());
        if (filterJson.Length > 8_000)
        {
            throw new DomainValidationException("filter", "The filter is too long (8,000 characters as JSON at most).");
        }

        var columns = input.Columns is null ? null : TraceListColumns.Write(TraceListColumns.Normalize(input.Columns));
        return (name, filterJson, columns);
    }

    private static async Task RequireUniqueNameAsync(IEvalDbContext db, string name, string owner, Guid? except, CancellationToken ct)
    {
        // Among what the picker shows side by side: the team's shared views, and the owner's own.
        var names = await db.SavedViews.AsNoTracking()
            .Where(v => v.Id != except && (v.Shared || v.OwnerId == owner))
            .Select(v => v.Name).ToListAsync(ct);
        if (names.Contains(name, StringComparer.OrdinalIgnoreCase))
        {
            throw new DomainValidationException("name", $"A view named '{name}' exists already.");
        }
    }

    private static async Task<SavedView> FindVisibleAsync(IEvalDbContext db, Guid id, string owner, CancellationToken ct, bool track = false)
    {
        var query = track ? db.SavedViews : db.SavedViews.AsNoTracking();
        return await query.SingleOrDefaultAsync(v => v.Id == id && (v.Shared || v.OwnerId == owner), ct)
            ?? throw new NotFoundException($"No view {id} in this team.");
    }

    private bool CanEdit(SavedView row, string owner) => row.OwnerId == owner || (row.Shared && team.Can(Permission.ManageSharedViews));

    private void RequireEdit(SavedView row, string owner)
    {
        if (!CanEdit(row, owner))
        {
            throw new PermissionDeniedException("A shared view is changed by its owner, an Admin or Owner, or an 'admin' key.");
        }
    }

    private SavedViewInfo ToInfo(SavedView v, string owner) => new(
        v.Id, v.Name, v.Shared, v.OwnerId, ReadFilter(v.FilterJson), v.Columns is null ? null : TraceListColumns.Read(v.Columns), CanEdit(v, owner),
        v.CreatedAt, v.UpdatedAt);

    private static TraceFilter ReadFilter(string json)
    {
        try
        {
            return QueueFilterJson.Read(json);
        }
        catch (JsonException)
        {
            return new TraceFilter();
        }
    }

    /// <summary>The acting owner ("api-key:{id}" or the user id); reading traces is what views need.</summary>
    private string RequireReader()
    {
        if (!team.Can(Permission.ViewTraces))
        {
            throw new PermissionDeniedException("Saved views need a team role, or an API key with the 'read' scope.");
        }

        return team.ApiKeyId is { } keyId ? $"api-key:{keyId}" : team.UserId
            ?? throw new PermissionDeniedException("Saved views belong to a signed-in member or an API key.");
    }
}
