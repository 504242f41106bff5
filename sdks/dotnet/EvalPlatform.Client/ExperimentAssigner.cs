using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace EvalPlatform.Client;

/// <summary>
/// A unit's assignment, as the platform's <c>POST /api/v1/experiments/{key}/assign</c> answers it: the variant and its
/// JSON config, or <see cref="InExperiment"/> false with no variant (outside the coverage, not running, unknown).
/// </summary>
public sealed record ExperimentAssignment(string Experiment, string? Variant, JsonObject? Config, bool InExperiment)
{
    /// <summary>The unit is not in <paramref name="experiment"/>.</summary>
    public static ExperimentAssignment NotIn(string experiment) => new(experiment, null, null, false);
}

/// <summary>One running experiment as <c>GET /api/v1/experiments/definitions</c> lists it.</summary>
public sealed class ExperimentDefinition
{
    public string Key { get; init; } = "";

    /// <summary>The hash seed; the key when absent.</summary>
    public string? Seed { get; init; }

    public int HashVersion { get; init; } = 2;

    /// <summary><c>user_id</c>, <c>session_id</c> or <c>trace</c>: what the caller passes as the unit id.</summary>
    public string? Unit { get; init; }

    public double? Coverage { get; init; }

    public string? Status { get; init; }

    public IReadOnlyList<ExperimentVariantDefinition> Variants { get; init; } = [];

    public Dictionary<string, JsonElement>? Filters { get; init; }
}

/// <summary>A variant of an <see cref="ExperimentDefinition"/>: its key, weight and config.</summary>
public sealed record ExperimentVariantDefinition(string Key, double Weight, JsonObject? Config);

/// <summary>Assigns units to experiments by local evaluation; see <see cref="ExperimentAssigner"/>.</summary>
public interface IExperimentAssigner
{
    /// <summary>
    /// The unit's variant, evaluated locally (GrowthBook v2 hashing) from the cached definitions. Follows the current
    /// weights; the platform's <c>POST /api/v1/experiments/{key}/assign</c> is the sticky one. Never throws because the
    /// platform failed: without definitions the unit is not in the experiment (logged once).
    /// </summary>
    /// <param name="experiment">The experiment's key.</param>
    /// <param name="unitId">The unit the experiment splits on (a user id, a session id or a trace's id); null or empty is not in it.</param>
    /// <param name="attributes">When given, each of the experiment's filters must equal the attribute of its name; without them filters are not checked.</param>
    /// <param name="cancellationToken">Cancels the wait for the definitions.</param>
    Task<ExperimentAssignment> AssignAsync(string experiment, string? unitId, IReadOnlyDictionary<string, string>? attributes = null, CancellationToken cancellationToken = default);
}

/// <summary>
/// Keeps a copy of <c>GET /api/v1/experiments/definitions</c> (fetched on first use, revalidated with its ETag after the
/// answer's <c>max-age</c>, 30 s when absent) and assigns from it, without a request per call. When the platform cannot
/// be reached or refuses, the last copy goes on serving; with no copy every unit is out of the experiment. A failure is
/// logged once (until a fetch succeeds again) and retried after 30 s, so an outage costs one timeout, not one per call.
/// </summary>
public sealed class ExperimentAssigner : IExperimentAssigner, IDisposable
{
    /// <summary>How long a copy is fresh when the answer names no max-age, and how long to wait after a failure.</summary>
    public static readonly TimeSpan DefaultMaxAge = TimeSpan.FromSeconds(30);

    private readonly Func<HttpClient> _httpClients;
    private readonly EvalPlatformOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _gate = new(1, 1);
    // Read without the gate on the fast path: a reference and a long (UTC ticks) are read whole.
    private volatile Dictionary<string, ExperimentDefinition>? _experiments;
    private string? _etag;
    private long _expiresTicks = long.MinValue;
    private bool _failing;

    public ExperimentAssigner(HttpClient httpClient, EvalPlatformOptions options, ILogger<ExperimentAssigner>? logger = null, TimeProvider? timeProvider = null)
        : this(() => httpClient, options, logger, timeProvider)
    {
    }

    /// <summary>Takes an <see cref="HttpClient"/> per fetch (from <c>IHttpClientFactory</c>, so connections follow DNS).</summary>
    public ExperimentAssigner(Func<HttpClient> httpClients, EvalPlatformOptions options, ILogger<ExperimentAssigner>? logger = null, TimeProvider? timeProvider = null)
    {
        _httpClients = httpClients;
        _options = options;
        _logger = logger ?? (ILogger)NullLogger.Instance;
        _time = timeProvider ?? TimeProvider.System;
    }

    public async Task<ExperimentAssignment> AssignAsync(
        string experiment, string? unitId, IReadOnlyDictionary<string, string>? attributes = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(experiment);
        if (_options.Endpoint is null || string.IsNullOrEmpty(_options.ApiKey))
        {
            return ExperimentAssignment.NotIn(experiment);
        }

        var experiments = await DefinitionsAsync(cancellationToken).ConfigureAwait(false);
        return experiments is not null && experiments.TryGetValue(experiment, out var definition)
            ? Evaluate(definition, unitId, attributes)
            : ExperimentAssignment.NotIn(experiment);
    }

    /// <summary>One unit's assignment from one definition (pure; the same rules as the platform's).</summary>
    public static ExperimentAssignment Evaluate(ExperimentDefinition definition, string? unitId, IReadOnlyDictionary<string, string>? attributes = null)
    {
        ArgumentNullException.ThrowIfNull(definition);
        var key = definition.Key;
        if ((definition.Status ?? "running") != "running" || definition.Variants.Count == 0 || string.IsNullOrEmpty(unitId))
        {
            return ExperimentAssignment.NotIn(key);
        }

        if (attributes is not null && definition.Filters is { } filters
            && filters.Any(f => !attributes.TryGetValue(f.Key, out var value) || value != FilterText(f.Value)))
        {
            return ExperimentAssignment.NotIn(key);
        }

        if (GrowthBookHash.Hash(string.IsNullOrEmpty(definition.Seed) ? key : definition.Seed, unitId, definition.HashVersion) is not { } n)
        {
            return ExperimentAssignment.NotIn(key);
        }

        var ranges = GrowthBookHash.BucketRanges(definition.Variants.Count, definition.Coverage ?? 1, definition.Variants.Select(v => v.Weight).ToList());
        var index = GrowthBookHash.ChooseVariant(n, ranges);
        if (index < 0)
        {
            return ExperimentAssignment.NotIn(key);
        }

        var variant = definition.Variants[index];
        return new ExperimentAssignment(key, variant.Key, variant.Config, true);
    }

    public void Dispose() => _gate.Dispose();

    private static string FilterText(JsonElement value) => value.ValueKind == JsonValueKind.String ? value.GetString() ?? "" : value.GetRawText();

    private async Task<Dictionary<string, ExperimentDefinition>?> DefinitionsAsync(CancellationToken cancellationToken)
    {
        if (!Expired())
        {
            return _experiments;
        }

        // One fetch at a time; the callers that waited find the copy fresh.
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (Expired())
            {
                await RefreshAsync(cancellationToken).ConfigureAwait(false);
            }

            return _experiments;
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task RefreshAsync(CancellationToken cancellationToken)
    {
        string problem;
        try
        {
            using var timeout = new CancellationTokenSource(_options.RequestTimeout, _time);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
            using var request = EvalPlatformHttp.Request(_options, HttpMethod.Get, "experiments/definitions");
            if (_etag is not null && _experiments is not null)
            {
                request.Headers.TryAddWithoutValidation("If-None-Match", _etag);
            }

            using var response = await _httpClients().SendAsync(request, linked.Token).ConfigureAwait(false);
            if (response.StatusCode == HttpStatusCode.NotModified && _experiments is not null)
            {
                Fresh(response);
                return;
            }

            if (response.StatusCode == HttpStatusCode.OK)
            {
                var body = await response.Content.ReadFromJsonAsync<DefinitionList>(EvalJson.Options, linked.Token).ConfigureAwait(false);
                if (body?.Experiments is { } listed)
                {
                    _experiments = listed.Where(e => !string.IsNullOrEmpty(e.Key)).GroupBy(e => e.Key, StringComparer.Ordinal)
                        .ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
                    _etag = response.Headers.ETag?.ToString();
                    Fresh(response);
                    return;
                }

                problem = "an answer without an experiments list";
            }
            else
            {
                problem = $"HTTP {(int)response.StatusCode}";
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException or JsonException or NotSupportedException)
        {
            problem = e.Message;
        }

        ExpireAfter(DefaultMaxAge);
        if (!_failing)
        {
            _failing = true;
            _logger.LogWarning(
                "EvalPlatform: could not fetch the experiment definitions ({Problem}); {Consequence}.",
                problem,
                _experiments is not null ? "using the last copy" : "units are out of every experiment until they can be fetched");
        }
    }

    private void Fresh(HttpResponseMessage response)
    {
        ExpireAfter(response.Headers.CacheControl?.MaxAge ?? DefaultMaxAge);
        _failing = false;
    }

    private bool Expired() => _time.GetUtcNow().UtcTicks >= Volatile.Read(ref _expiresTicks);

    private void ExpireAfter(TimeSpan age) => Volatile.Write(ref _expiresTicks, (_time.GetUtcNow() + age).UtcTicks);

    private sealed record DefinitionList(IReadOnlyList<ExperimentDefinition>? Experiments);
}
