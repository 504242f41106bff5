using System.Diagnostics;
using EvalPlatform.Core.Analytics;
using EvalPlatform.Core.Audit;
using EvalPlatform.Core.Common;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Outbound;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Core.Traces;
using Microsoft.EntityFrameworkCore;

namespace EvalPlatform.Core.Providers;

/// <summary>A connection as created: <c>openai</c>, <c>anthropic</c> or <c>openai_compatible</c>; the key is kept encrypted only.</summary>
public sealed record ProviderInput(string? Kind, string? Name, string? BaseUrl, string? ApiKey);

/// <summary>A connection as listed: never its key, only its last four characters.</summary>
public sealed record ProviderInfo(Guid Id, string Kind, string Name, string BaseUrl, string KeyHint, DateTimeOffset CreatedAt);

/// <summary>The outcome of a connection test (a models call): the provider's own message when it refused.</summary>
public sealed record ProviderTestResult(bool Ok, int? Status, string? Error, int ModelCount, double LatencyMs);

/// <summary>The models a provider lists, or why it would not say.</summary>
public sealed record ProviderModelsResult(IReadOnlyList<string>? Models, int? Status, string? Error);

/// <summary>One bucket of a connection's calls. Latency quantiles are null for a bucket without calls.</summary>
public sealed record ProviderUsageBucket(
    DateTimeOffset Start, int Requests, int Errors, long InputTokens, long OutputTokens, decimal Cost, double? LatencyP50Ms, double? LatencyP95Ms);

public sealed record ProviderUsageReport(
    DateTimeOffset From, DateTimeOffset To, string Interval, ProviderUsageBucket Total, IReadOnlyList<ProviderUsageBucket> Buckets);

/// <summary>A team's price for models starting with <paramref name="ModelPrefix"/>, USD per million tokens.</summary>
public sealed record ProviderPriceInput(string? ModelPrefix, decimal? InputPerMillion, decimal? OutputPerMillion);

public sealed record ProviderPrice(string ModelPrefix, decimal InputPerMillion, decimal OutputPerMillion);

/// <summary>The team's own prices (which win) and the built-in list.</summary>
public sealed record ProviderPriceList(IReadOnlyList<ProviderPrice> Items, IReadOnlyList<ProviderPrice> BuiltIn);

/// <summary>
/// The current team's provider connections and model prices (Settings → Providers, <c>/api/v1/providers</c>): all of it
/// needs <see cref="Permission.ManageProviders"/>. Base URLs pass the SSRF guard when saved (and again at each connection,
/// in the HttpClient); keys are encrypted for the team and never shown again.
/// </summary>
public sealed class ProviderService(
    IEvalDbContextFactory dbFactory, ITeamContext team, IProviderKeyProtector protector, IProviderConnections connections,
    IProviderModels models, IProviderUsage usage, OutboundGuard guard, AuditLog audit, Caching.SettingsCache cache, TimeProvider clock)
{
    public const int MaxConnections = 50;
    public const int MaxPrices = 200;
    public const int MaxBuckets = 1_500;

    public async Task<IReadOnlyList<ProviderInfo>> ListAsync(CancellationToken ct = default)
    {
        RequireManage();
        await using var db = await dbFactory.CreateAsync(ct);
        var rows = await db.ProviderConnections.AsNoTracking().ToListAsync(ct);
        return rows.OrderBy(c => c.CreatedAt).ThenBy(c => c.Id).Select(ToInfo).ToList();
    }

    public async Task<ProviderInfo> CreateAsync(ProviderInput input, CancellationToken ct = default)
    {
        var teamId = RequireManage();
        ArgumentNullException.ThrowIfNull(input);
        if (!ProviderKinds.TryParse(input.Kind, out var kind))
        {
            throw new DomainValidationException("kind", "Required: one of openai, anthropic, openai_compatible.");
        }

        var name = input.Name?.Trim();
        if (string.IsNullOrEmpty(name) || name.Length > 100)
        {
            throw new DomainValidationException("name", "Required: a name of at most 100 characters, such as \"OpenAI production\".");
        }

        var apiKey = input.ApiKey?.Trim();
        if (string.IsNullOrEmpty(apiKey) || apiKey.Length > 1_000)
        {
            throw new DomainValidationException("api_key", "Required: the provider's API key (at most 1000 characters).");
        }

        var baseUrl = string.IsNullOrWhiteSpace(input.BaseUrl) ? ProviderKinds.DefaultBaseUrl(kind) : input.BaseUrl.Trim().TrimEnd('/');
        if (baseUrl is null)
        {
            throw new DomainValidationException("base_url", "Required for openai_compatible: the server's base URL as the OpenAI SDKs take it, such as http://vllm.internal:8000/v1.");
        }

        if (baseUrl.Length > 2_000)
        {
            throw new DomainValidationException("base_url", "At most 2000 characters.");
        }

        await guard.RequireAllowedAsync(baseUrl, "base_url", ct);
        if (!string.IsNullOrEmpty(new Uri(baseUrl).Query) || !string.IsNullOrEmpty(new Uri(baseUrl).Fragment))
        {
            throw new DomainValidationException("base_url", "Must not carry a query or fragment; give the base URL the SDKs take.");
        }

        var now = clock.GetUtcNow();
        await using var db = await dbFactory.CreateAsync(ct);
        var existing = await db.ProviderConnections.Select(c => c.Name).ToListAsync(ct);
        if (existing.Count >= MaxConnections)
        {
            throw new DomainValidationException("name", $"A team has at most {MaxConnections} provider connections; delete one first.");
        }

        if (existing.Contains(name, StringComparer.Ordinal))
        {
            throw new ConflictException($"The team already has a provider connection named '{name}'.");
        }

        var connection = new ProviderConnection
        {
            Id = Uuid7.Create(now),
            TeamId = teamId,
            Kind = kind,
            Name = name,
            BaseUrl = baseUrl,
            ProtectedApiKey = protector.Protect(teamId, apiKey),
            KeyHint = apiKey.Length <= 8 ? "" : apiKey[^4..],
            CreatedAt = now,
            CreatedBy = team.UserId ?? team.ApiKeyId?.ToString(),
        };
        db.ProviderConnections.Add(connection);
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException)
        {
            // Two creations with one name at once: the unique index keeps one.
            throw new ConflictException($"The team already has a provider connection named '{name}'.");
        }

        await cache.InvalidateAsync(ProviderConnections.CacheName, teamId, ct);
        await audit.RecordAsync(AuditActions.ProviderCreated, name,
            new Dictionary<string, string?> { ["kind"] = ProviderKinds.Format(kind), ["base_url"] = baseUrl, ["key_hint"] = connection.KeyHint }, ct);
        return ToInfo(connection);
    }

    /// <summary>Deletes the connection; its calls stay counted in the team's usage (and budgets).</summary>
    public async Task DeleteAsync(Guid id, CancellationToken ct = default)
    {
        RequireManage();
        await using var db = await dbFactory.CreateAsync(ct);
        var connection = await db.ProviderConnections.SingleOrDefaultAsync(c => c.Id == id, ct) ?? throw NotFound(id);
        db.ProviderConnections.Remove(connection);
        await db.SaveChangesAsync(ct);
        await cache.InvalidateAsync(ProviderConnections.CacheName, connection.TeamId, ct);
        await audit.RecordAsync(AuditActions.ProviderDeleted, connection.Name,
            new Dictionary<string, string?> { ["kind"] = ProviderKinds.Format(connection.Kind), ["base_url"] = connection.BaseUrl }, ct);
    }

    /// <summary>Calls the provider's models endpoint with the stored key; the call is recorded like any other.</summary>
    public async Task<ProviderTestResult> TestAsync(Guid id, CancellationToken ct = default)
    {
        RequireManage();
        var provider = await connections.FindAsync(id, ct) ?? throw NotFound(id);
        var started = Stopwatch.GetTimestamp();
        ProviderTestResult result;
        try
        {
            var listed = await models.ListAsync(provider, ct);
            result = new ProviderTestResult(true, 200, null, listed.Count, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }
        catch (LlmCallException e)
        {
            result = new ProviderTestResult(false, e.Status, e.Message, 0, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }

        await usage.RecordAsync(new ProviderCall
        {
            ConnectionId = id, Source = ProviderCallSource.ConnectionTest, LatencyMs = result.LatencyMs, Status = result.Status, IsError = !result.Ok,
        }, CancellationToken.None);
        return result;
    }

    public async Task<ProviderModelsResult> ModelsAsync(Guid id, CancellationToken ct = default)
    {
        RequireManage();
        var provider = await connections.FindAsync(id, ct) ?? throw NotFound(id);
        try
        {
            return new ProviderModelsResult(await models.ListAsync(provider, ct), 200, null);
        }
        catch (LlmCallException e)
        {
            return new ProviderModelsResult(null, e.Status, e.Message);
        }
    }

    /// <summary>
    /// The connection's calls per bucket over [<paramref name="from"/>, <paramref name="to"/>): requests, errors, tokens,
    /// cost and latency p50/p95 (exact, over the bucket's calls).
    /// </summary>
    public async Task<ProviderUsageReport> UsageAsync(Guid id, DateTimeOffset from, DateTimeOffset to, MetricInterval interval, CancellationToken ct = default)
    {
        RequireManage();
        if (to <= from)
        {
            throw new DomainValidationException("to", "Must be after 'from'.");
        }

        var start = interval.Floor(from);
        if ((to - start).Ticks / interval.Length().Ticks >= MaxBuckets)
        {
            throw new DomainValidationException("interval", $"At most {MaxBuckets} buckets: choose a longer interval or a shorter range.");
        }

        await using var db = await dbFactory.CreateAsync(ct);
        if (!await db.ProviderConnections.AnyAsync(c => c.Id == id, ct))
        {
            throw NotFound(id);
        }

        var calls = await db.ProviderCalls.AsNoTracking()
            .Where(c => c.ConnectionId == id && c.At >= start && c.At < to)
            .Select(c => new { c.At, c.IsError, c.InputTokens, c.OutputTokens, c.Cost, c.LatencyMs })
            .ToListAsync(ct);

        ProviderUsageBucket Bucket(DateTimeOffset at, IReadOnlyCollection<(bool IsError, int? In, int? Out, decimal? Cost, double Latency)> rows)
        {
            var latencies = rows.Select(r => r.Latency).Order().ToList();
            return new ProviderUsageBucket(at, rows.Count, rows.Count(r => r.IsError), rows.Sum(r => (long)(r.In ?? 0)), rows.Sum(r => (long)(r.Out ?? 0)),
                rows.Sum(r => r.Cost ?? 0m), Quantile(latencies, 0.50), Quantile(latencies, 0.95));
        }

        var byBucket = calls.GroupBy(c => interval.Floor(c.At)).ToDictionary(g => g.Key, g => g.Select(c => (c.IsError, c.InputTokens, c.OutputTokens, c.Cost, c.LatencyMs)).ToList());
        var buckets = new List<ProviderUsageBucket>();
        for (var at = start; at < to; at += interval.Length())
        {
            buckets.Add(Bucket(at, byBucket.TryGetValue(at, out var rows) ? rows : []));
        }

        var total = Bucket(start, calls.Select(c => (c.IsError, c.InputTokens, c.OutputTokens, c.Cost, c.LatencyMs)).ToList());
        return new ProviderUsageReport(start, to, interval.Name(), total, buckets);
    }

    public async Task<ProviderPriceList> PricesAsync(CancellationToken ct = default)
    {
        RequireManage();
        await using var db = await dbFactory.CreateAsync(ct);
        var rows = await db.ProviderModelPrices.AsNoTracking().ToListAsync(ct);
        return new ProviderPriceList(
            rows.OrderBy(p => p.ModelPrefix, StringComparer.Ordinal).Select(p => new ProviderPrice(p.ModelPrefix, p.InputPerMillion, p.OutputPerMillion)).ToList(),
            ModelPrices.BuiltIn.Select(p => new ProviderPrice(p.Prefix, p.InputPerMillion, p.OutputPerMillion)).ToList());
    }

    /// <summary>Replaces the team's own prices with <paramref name="items"/> (an empty list: the built-in list only).</summary>
    public async Task<ProviderPriceList> ReplacePricesAsync(IReadOnlyList<ProviderPriceInput>? items, CancellationToken ct = default)
    {
        var teamId = RequireManage();
        if (items is null)
        {
            throw new DomainValidationException("items", "Required: the team's prices (an empty list keeps only the built-in ones).");
        }

        if (items.Count > MaxPrices)
        {
            throw new DomainValidationException("items", $"At most {MaxPrices} prices.");
        }

        var prices = new List<ProviderModelPrice>();
        var now = clock.GetUtcNow();
        for (var i = 0; i < items.Count; i++)
        {
            var item = items[i];
            var prefix = item.ModelPrefix?.Trim().ToLowerInvariant();
            if (string.IsNullOrEmpty(prefix) || prefix.Length > 200)
            {
                throw new DomainValidationException($"items[{i}].model_prefix", "Required: the start of the model names it prices (at most 200 characters), such as gpt-4o.");
            }

            if (prices.Any(p => p.ModelPrefix == prefix))
            {
                throw new DomainValidationException($"items[{i}].model_prefix", $"'{prefix}' is listed twice.");
            }

            if (item.InputPerMillion is not { } input || input < 0 || input > 100_000)
            {
                throw new DomainValidationException($"items[{i}].input_per_million", "Required: USD per million input tokens, from 0 to 100000.");
            }

            if (item.OutputPerMillion is not { } output || output < 0 || output > 100_000)
            {
                throw new DomainValidationException($"items[{i}].output_per_million", "Required: USD per million output tokens, from 0 to 100000.");
            }

            prices.Add(new ProviderModelPrice { Id = Uuid7.Create(now), TeamId = teamId, ModelPrefix = prefix, InputPerMillion = input, OutputPerMillion = output, UpdatedAt = now });
        }

        await using var db = await dbFactory.CreateAsync(ct);
        await using var transaction = await db.Database.BeginTransactionAsync(ct);
        await db.ProviderModelPrices.ExecuteDeleteAsync(ct);
        db.ProviderModelPrices.AddRange(prices);
        await db.SaveChangesAsync(ct);
        await transaction.CommitAsync(ct);
        await audit.RecordAsync(AuditActions.ProviderPricesChanged, null,
            new Dictionary<string, string?> { ["prices"] = string.Join(", ", prices.Select(p => p.ModelPrefix)) }, ct);
        return await PricesAsync(ct);
    }

    /// <summary>Nearest-rank quantile of sorted values; null for none.</summary>
    private static double? Quantile(List<double> sorted, double q) =>
        sorted.Count == 0 ? null : sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Count) - 1, 0, sorted.Count - 1)];

    private static NotFoundException NotFound(Guid id) => new($"No provider connection {id} in this team.");

    private Guid RequireManage() =>
        team.Can(Permission.ManageProviders) && team.TeamId is { } id
            ? id
            : throw new PermissionDeniedException("Managing provider connections needs the Admin or Owner role, or an API key with the 'admin' scope.");

    public static ProviderInfo ToInfo(ProviderConnection c) => new(c.Id, ProviderKinds.Format(c.Kind), c.Name, c.BaseUrl, c.KeyHint, c.CreatedAt);
}
