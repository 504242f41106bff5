namespace EvalPlatform.Client;

/// <summary>
/// Settings of the EvalPlatform client, bound from the configuration section
/// <see cref="SectionName"/> ("EvalPlatform") by <c>AddEvalPlatform</c>.
/// </summary>
public sealed class EvalPlatformOptions
{
    public const string SectionName = "EvalPlatform";

    /// <summary>Where the platform answers, e.g. <c>https://evals.example.com</c> (the API is under <c>/api/v1</c>).</summary>
    public Uri? Endpoint { get; set; }

    /// <summary>A team's API key (<c>ep_…</c>): scope <c>ingest</c> to send traces and scores, <c>read</c> for reviews.</summary>
    public string? ApiKey { get; set; }

    /// <summary>A batch is sent as soon as this many traces wait (1 to 1,000, the platform's limit).</summary>
    public int MaxBatchSize { get; set; } = 100;

    /// <summary>Whatever waits is sent at least this often.</summary>
    public TimeSpan FlushInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Traces kept in memory while the platform is slow or down; past it the oldest are dropped (and counted).</summary>
    public int MaxQueueSize { get; set; } = 10_000;

    /// <summary>The most bytes of JSON in one batch (the platform refuses batches over 10 MB).</summary>
    public int MaxBatchBytes { get; set; } = 9 * 1024 * 1024;

    /// <summary>Retries of a batch after a network error, a timeout, 408, 429 or 5xx (503 included), before its traces count as failed.</summary>
    public int MaxRetries { get; set; } = 5;

    /// <summary>The first retry waits about this long (with jitter), each next one twice as long, up to <see cref="MaxBackoff"/>.</summary>
    public TimeSpan InitialBackoff { get; set; } = TimeSpan.FromMilliseconds(500);

    public TimeSpan MaxBackoff { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>A <c>Retry-After</c> longer than this counts as this (the batcher would otherwise hold everything back for hours).</summary>
    public TimeSpan MaxRetryAfter { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>One HTTP request may take this long before it counts as a network error.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long <c>FlushAsync</c> (without a token of its own) and disposal wait for pending traces to be sent.</summary>
    public TimeSpan FlushTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Problems with these settings, none when they are usable.</summary>
    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        if (Endpoint is null || !Endpoint.IsAbsoluteUri || (Endpoint.Scheme != Uri.UriSchemeHttp && Endpoint.Scheme != Uri.UriSchemeHttps))
        {
            problems.Add($"{SectionName}:Endpoint must be an absolute http(s) address, e.g. https://evals.example.com.");
        }

        if (string.IsNullOrWhiteSpace(ApiKey))
        {
            problems.Add($"{SectionName}:ApiKey is required (create one under Settings → API keys).");
        }

        if (MaxBatchSize is < 1 or > 1000)
        {
            problems.Add($"{SectionName}:MaxBatchSize must be from 1 to 1000.");
        }

        if (MaxQueueSize < 1)
        {
            problems.Add($"{SectionName}:MaxQueueSize must be at least 1.");
        }

        if (MaxBatchBytes is < 1024 or > 10 * 1024 * 1024)
        {
            problems.Add($"{SectionName}:MaxBatchBytes must be from 1 KB to 10 MB.");
        }

        if (FlushInterval <= TimeSpan.Zero || RequestTimeout <= TimeSpan.Zero || FlushTimeout <= TimeSpan.Zero)
        {
            problems.Add($"{SectionName}:FlushInterval, RequestTimeout and FlushTimeout must be positive.");
        }

        if (MaxRetries < 0 || InitialBackoff < TimeSpan.Zero || MaxBackoff < InitialBackoff || MaxRetryAfter < TimeSpan.Zero)
        {
            problems.Add($"{SectionName}:MaxRetries must not be negative and InitialBackoff must not exceed MaxBackoff.");
        }

        return problems;
    }
}
