using EvalPlatform.Core.Audit;
using EvalPlatform.Core.Common;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using Microsoft.EntityFrameworkCore;

namespace EvalPlatform.Core.Providers.Proxy;

/// <summary>Whom a budget counts: the whole team, each API key, or each end user (<c>X-EvalPlatform-User</c>).</summary>
public enum BudgetScope
{
    Team,
    ApiKey,
    EndUser,
}

/// <summary>What a budget counts: calls, tokens (input + output) or cost (USD).</summary>
public enum BudgetMetric
{
    Requests,
    Tokens,
    Cost,
}

/// <summary>A budget's window: a fixed UTC minute, hour or day; spent budgets open again at the next one.</summary>
public enum BudgetWindow
{
    Minute,
    Hour,
    Day,
}

/// <summary>
/// A spending limit on the proxy's calls per window. <see cref="ApiKeyId"/> / <see cref="EndUser"/> narrow an
/// <see cref="BudgetScope.ApiKey"/> / <see cref="BudgetScope.EndUser"/> budget to one key or one user; without them it
/// applies to each key or each user on its own.
/// </summary>
public sealed class ProviderBudget : ITeamOwned
{
    public Guid Id { get; set; }
    public Guid TeamId { get; set; }
    public BudgetScope Scope { get; set; }
    public Guid? ApiKeyId { get; set; }
    public string? EndUser { get; set; }
    public BudgetMetric Metric { get; set; }
    public decimal Limit { get; set; }
    public BudgetWindow Window { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
}

/// <summary>A budget as the API takes it.</summary>
public sealed record BudgetInput(BudgetScope Scope, BudgetMetric Metric, decimal Limit, BudgetWindow Window, Guid? ApiKeyId = null, string? EndUser = null);

/// <summary>
/// A budget with what its current window has spent: for a budget on each key or each end user, the one that spent the most
/// (<see cref="Who"/>, null when nobody has spent anything yet).
/// </summary>
public sealed record BudgetStatus(ProviderBudget Budget, decimal Spent, string? Who, DateTimeOffset WindowEnd)
{
    public bool IsSpent => Spent >= Budget.Limit;
}

/// <summary>A call refused because a budget is spent: which, how much, and when its window opens again.</summary>
public sealed record BudgetRefusal(ProviderBudget Budget, decimal Spent, TimeSpan RetryAfter)
{
    public string Message =>
        $"The {Describe(Budget)} budget is spent ({Spent.ToString("0.########", System.Globalization.CultureInfo.InvariantCulture)} of " +
        $"{Budget.Limit.ToString("0.########", System.Globalization.CultureInfo.InvariantCulture)} {Budget.Metric.ToString().ToLowerInvariant()} " +
        $"this {Budget.Window.ToString().ToLowerInvariant()}); it opens again in {Math.Ceiling(RetryAfter.TotalSeconds)} s.";

    private static string Describe(ProviderBudget b) => b.Scope switch
    {
        BudgetScope.ApiKey => "API key's",
        BudgetScope.EndUser => "end user's",
        _ => "team's",
    };
}

/// <summary>
/// The team's proxy budgets: kept with the API (<c>/api/v1/providers/budgets</c>, <see cref="Permission.ManageProviders"/>)
/// and checked before each proxied call goes upstream. Spending is counted from the usage rows (<see cref="ProviderCall"/>,
/// every source of the team, so the playground and judges spend the team's budget too) in the current fixed window.
/// A budget is a soft limit: calls already under way when it is reached still finish (and count).
/// The team's budgets are in the settings cache (<see cref="Caching.SettingsCache"/>), dropped on every node on change.
/// </summary>
public sealed class ProviderBudgets(IEvalDbContextFactory dbFactory, ITeamContext team, Caching.SettingsCache cache, AuditLog audit, TimeProvider clock)
{
    public const int MaxBudgets = 50;

    /// <summary>The budgets' name in the settings cache (and in the cache metrics).</summary>
    public const string CacheName = "provider_budgets";

    public async Task<IReadOnlyList<ProviderBudget>> ListAsync(CancellationToken ct = default)
    {
        RequireManage();
        await using var db = await dbFactory.CreateAsync(ct);
        return await db.ProviderBudgets.AsNoTracking().OrderBy(b => b.CreatedAt).ThenBy(b => b.Id).ToListAsync(ct);
    }

    /// <summary>Replaces the team's budgets with <paramref name="budgets"/> (an empty list removes them all).</summary>
    public async Task<IReadOnlyList<ProviderBudget>> ReplaceAsync(IReadOnlyList<BudgetInput> budgets, CancellationToken ct = default)
    {
        var teamId = RequireManage();
        if (budgets.Count > MaxBudgets)
        {
            throw new DomainValidationException("budgets", $"At most {MaxBudgets} budgets.");
        }

        for (var i = 0; i < budgets.Count; i++)
        {
            var b = budgets[i];
            if (b.Limit < 0)
            {
                throw new DomainValidationException($"budgets[{i}].limit", "Must be 0 or more.");
            }

            if (b.Metric != BudgetMetric.Cost && b.Limit != decimal.Truncate(b.Limit))
            {
                throw new DomainValidationException($"budgets[{i}].limit", "Requests and tokens are whole numbers.");
            }

            if (b.ApiKeyId is not null && b.Scope != BudgetScope.ApiKey)
            {
                throw new DomainValidationException($"budgets[{i}].api_key_id", "Only an api_key budget names a key.");
            }

            if (b.EndUser is not null && (b.Scope != BudgetScope.EndUser || b.EndUser.Length is 0 or > Ingestion.IngestionLimits.MaxShortText))
            {
                throw new DomainValidationException($"budgets[{i}].end_user", $"Only an end_user budget names a user, of 1 to {Ingestion.IngestionLimits.MaxShortText} characters.");
            }
        }

        await using var db = await dbFactory.CreateAsync(ct);
        for (var i = 0; i < budgets.Count; i++)
        {
            if (budgets[i].ApiKeyId is { } keyId && !await db.ApiKeys.AnyAsync(k => k.Id == keyId, ct))
            {
                throw new DomainValidationException($"budgets[{i}].api_key_id", "No API key of this team has this id.");
            }
        }

        var now = clock.GetUtcNow();
        db.ProviderBudgets.RemoveRange(await db.ProviderBudgets.ToListAsync(ct));
        var stored = budgets.Select((b, i) => new ProviderBudget
        {
            Id = Uuid7.Create(now.AddMilliseconds(i)),
            TeamId = teamId,
            Scope = b.Scope,
            ApiKeyId = b.ApiKeyId,
            EndUser = b.EndUser,
            Metric = b.Metric,
            Limit = b.Limit,
            Window = b.Window,
            CreatedAt = now.AddMilliseconds(i), // keeps the order given (SQLite keeps milliseconds)
        }).ToList();
        db.ProviderBudgets.AddRange(stored);
        await db.SaveChangesAsync(ct);
        await cache.InvalidateAsync(CacheName, teamId, ct);
        await audit.RecordAsync(AuditActions.ProviderBudgetsChanged, null,
            new Dictionary<string, string?> { ["budgets"] = string.Join("; ", stored.Select(Describe)) }, ct);
        return stored;
    }

    /// <summary>Each of the team's budgets with what its current window has spent (Settings → Providers).</summary>
    public async Task<IReadOnlyList<BudgetStatus>> StatusAsync(CancellationToken ct = default)
    {
        RequireManage();
        var now = clock.GetUtcNow();
        await using var db = await dbFactory.CreateAsync(ct);
        var budgets = await db.ProviderBudgets.AsNoTracking().OrderBy(b => b.CreatedAt).ThenBy(b => b.Id).ToListAsync(ct);
        var keyNames = budgets.Any(b => b.Scope == BudgetScope.ApiKey)
            ? await db.ApiKeys.AsNoTracking().ToDictionaryAsync(k => k.Id, k => k.Name, ct)
            : [];
        var statuses = new List<BudgetStatus>(budgets.Count);
        foreach (var budget in budgets)
        {
            var (start, end) = WindowOf(budget.Window, now);
            var calls = db.ProviderCalls.AsNoTracking().Where(c => c.At >= start);
            if (budget.Scope == BudgetScope.Team)
            {
                statuses.Add(new BudgetStatus(budget, await SpentAsync(calls, budget.Metric, ct), null, end));
                continue;
            }

            // Each key or each user spends on its own: the one nearest its limit is the one to show. Summed here per
            // caller (SQLite has no decimal arithmetic in SQL); a window holds at most a day of the team's calls.
            var rows = budget.Scope == BudgetScope.ApiKey
                ? calls.Where(c => c.ApiKeyId != null && (budget.ApiKeyId == null || c.ApiKeyId == budget.ApiKeyId))
                : calls.Where(c => c.EndUser != null && (budget.EndUser == null || c.EndUser == budget.EndUser));
            var spending = await rows.Select(c => new { c.ApiKeyId, c.EndUser, c.InputTokens, c.OutputTokens, c.Cost }).ToListAsync(ct);
            var top = spending
                .GroupBy(r => budget.Scope == BudgetScope.ApiKey ? r.ApiKeyId!.Value.ToString() : r.EndUser!)
                .Select(g => (Who: g.Key, Spent: budget.Metric switch
                {
                    BudgetMetric.Requests => g.Count(),
                    BudgetMetric.Tokens => g.Sum(r => (decimal)(r.InputTokens ?? 0) + (r.OutputTokens ?? 0)),
                    _ => g.Sum(r => r.Cost ?? 0m),
                }))
                .OrderByDescending(x => x.Spent).ThenBy(x => x.Who, StringComparer.Ordinal)
                .FirstOrDefault();
            var who = top.Who is null ? null
                : budget.Scope == BudgetScope.ApiKey && Guid.TryParse(top.Who, out var keyId) && keyNames.TryGetValue(keyId, out var name) ? name
                : top.Who;
            statuses.Add(new BudgetStatus(budget, top.Spent, who, end));
        }

        return statuses;
    }

    private static async Task<decimal> SpentAsync(IQueryable<ProviderCall> calls, BudgetMetric metric, CancellationToken ct) => metric switch
    {
        BudgetMetric.Requests => await calls.CountAsync(ct),
        BudgetMetric.Tokens => await calls.SumAsync(c => (long)(c.InputTokens ?? 0) + (c.OutputTokens ?? 0), ct),
        // Summed here: SQLite has no decimal arithmetic in SQL.
        _ => (await calls.Where(c => c.Cost != null).Select(c => c.Cost!.Value).ToListAsync(ct)).Sum(),
    };

    private static string Describe(ProviderBudget b) => string.Create(System.Globalization.CultureInfo.InvariantCulture,
        $"{b.Limit:0.########} {b.Metric.ToString().ToLowerInvariant()} per {b.Window.ToString().ToLowerInvariant()} for {b.Scope switch
        {
            BudgetScope.ApiKey => b.ApiKeyId is { } key ? $"key {key}" : "each key",
            BudgetScope.EndUser => b.EndUser is { } user ? $"user {user}" : "each end user",
            _ => "the team",
        }}");

    /// <summary>
    /// The first budget that applies to a call of <paramref name="apiKeyId"/> for <paramref name="endUser"/> and is spent,
    /// or null when the call may go.
    /// </summary>
    public async Task<BudgetRefusal?> CheckAsync(Guid? apiKeyId, string? endUser, CancellationToken ct)
    {
        var teamId = team.TeamId ?? throw new InvalidOperationException("Budgets are checked for the team in context; none is set.");
        var budgets = await cache.GetOrLoadAsync(CacheName, teamId, async token =>
        {
            await using var db = await dbFactory.CreateAsync(token);
            return (await db.ProviderBudgets.AsNoTracking().Where(b => b.TeamId == teamId).ToListAsync(token)).ToArray();
        }, ct);
        if (budgets.Length == 0)
        {
            return null;
        }

        var now = clock.GetUtcNow();
        await using var db = await dbFactory.CreateAsync(ct);
        foreach (var budget in budgets)
        {
            var calls = db.ProviderCalls.AsNoTracking();
            switch (budget.Scope)
            {
                case BudgetScope.ApiKey when apiKeyId is null || (budget.ApiKeyId is { } only && only != apiKeyId):
                case BudgetScope.EndUser when endUser is null || (budget.EndUser is { } user && user != endUser):
                    continue;
                case BudgetScope.ApiKey:
                    calls = calls.Where(c => c.ApiKeyId == apiKeyId);
                    break;
                case BudgetScope.EndUser:
                    calls = calls.Where(c => c.EndUser == endUser);
                    break;
            }

            var (start, end) = WindowOf(budget.Window, now);
            var spent = await SpentAsync(calls.Where(c => c.At >= start), budget.Metric, ct);
            if (spent >= budget.Limit)
            {
                return new BudgetRefusal(budget, spent, end - now);
            }
        }

        return null;
    }

    /// <summary>The fixed UTC window <paramref name="now"/> falls in.</summary>
    public static (DateTimeOffset Start, DateTimeOffset End) WindowOf(BudgetWindow window, DateTimeOffset now)
    {
        var utc = now.ToUniversalTime();
        var start = window switch
        {
            BudgetWindow.Minute => new DateTimeOffset(utc.Year, utc.Month, utc.Day, utc.Hour, utc.Minute, 0, TimeSpan.Zero),
            BudgetWindow.Hour => new DateTimeOffset(utc.Year, utc.Month, utc.Day, utc.Hour, 0, 0, TimeSpan.Zero),
            _ => new DateTimeOffset(utc.Year, utc.Month, utc.Day, 0, 0, 0, TimeSpan.Zero),
        };
        var end = window switch
        {
            BudgetWindow.Minute => start.AddMinutes(1),
            BudgetWindow.Hour => start.AddHours(1),
            _ => start.AddDays(1),
        };
        return (start, end);
    }


    private Guid RequireManage() => team.Can(Permission.ManageProviders) && team.TeamId is { } id
        ? id
        : throw new PermissionDeniedException("Managing provider budgets needs the Admin role or an API key with the 'admin' scope.");
}
