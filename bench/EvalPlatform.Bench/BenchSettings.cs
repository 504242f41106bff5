using System.Globalization;
using Npgsql;

namespace EvalPlatform.Bench;

/// <summary>Command-line settings; <c>bench/run.sh</c> passes the connection settings of its own services.</summary>
internal sealed class BenchSettings
{
    public const string Usage = """
        Usage: EvalPlatform.Bench --postgres CONN --redis HOST:PORT [options]
          --postgres CONN        superuser connection string of the bench cluster (its database is replaced by --database)
          --redis HOST:PORT      the bench Redis
          --database NAME        database created (dropped first) for the run        (default evalbench)
          --repo DIR             repository root (default: found above this binary)
          --postmaster-pid N     PostgreSQL's postmaster pid, to report its CPU use    (optional)
          --pid-file FILE        write the app's pid here, so run.sh can clean up    (optional)
          --batch-traces N       traces in the timed batch phase and in the COPY phase (default 60000)
          --batch-size N         traces per batch                                     (default 500)
          --clients N            concurrent HTTP clients for batches                  (default 4)
          --warmup-traces N      traces posted in batches before timing              (default 60000)
          --single-rate R        single POSTs per second, open loop                   (default 200)
          --single-seconds S     how long                                             (default 15)
          --live-count N         single traces timed to their live event              (default 500)
          --live-rate R          their rate per second                                (default 50)
          --otlp-spans N         spans in the timed OTLP protobuf phase (exports of 510) (default 30600)
          --langsmith-runs N     runs in the timed LangSmith multipart phase (100 a request) (default 20000)
          --quiet-wait S         before timing, wait up to S seconds for other work on the machine to settle (default 120)
          --attempts N           repeat a phase, at most N times in all, while other work disturbs it (default 3)
          --patience S           stop waiting and repeating S seconds after the first timed phase starts (default 300)
          --sweep                also try other batch sizes and client counts (20,000 traces each)
          --sample               print one generated trace and the average size, then exit
          --analytics            the analytics figures instead (issue 15): a seeded month, the rollup, the
                                 dashboard queries, ingestion beside the rollup, a new trace counting
          --analytics-traces N   traces seeded for --analytics                        (default 1000000)
          --analytics-days N     over how many days                                   (default 30)
          --query-repeats N      timed repeats of each dashboard query                (default 100)
          --live-samples N       traces timed until the summary counts them           (default 40)
          --analytics-rounds N   rounds of ingestion alone / beside the rollup         (default 3)
          --settings-cache       the settings cache figures instead (issue 14): hit rate and read latency of
                                 review settings and API key checks, with the caches on and off
          --cache-teams N        teams (each with settings and a key)                 (default 200)
          --cache-workers N      concurrent readers                                   (default 8)
          --cache-seconds S      timed seconds a side                                 (default 15)
          --cache-warmup S       untimed seconds before each side                     (default 5)
          --cache-write-ms N     a team's setting changed every N ms                  (default 100)
        """;

    /// <summary>The developer's test services: never touched by the bench.</summary>
    private const int ForbiddenPgPort = 55432;
    private const int ForbiddenRedisPort = 56379;

    public required string Postgres { get; init; }
    public required string Redis { get; init; }
    public string Database { get; init; } = "evalbench";
    public required string Repo { get; init; }
    public int? PostmasterPid { get; init; }
    public string? PidFile { get; init; }
    public int BatchTraces { get; init; } = 60_000;
    public int BatchSize { get; init; } = 500;
    public int Clients { get; init; } = 4;
    public int WarmupTraces { get; init; } = 60_000;
    public double SingleRate { get; init; } = 200;
    public double SingleSeconds { get; init; } = 15;
    public int LiveCount { get; init; } = 500;
    public double LiveRate { get; init; } = 50;
    public int OtlpSpans { get; init; } = 30_600;
    public int LangSmithRuns { get; init; } = 20_000;
    public double QuietWait { get; init; } = 120;
    public int Attempts { get; init; } = 3;
    public double Patience { get; init; } = 300;
    public bool Sweep { get; init; }
    public bool Sample { get; init; }

    /// <summary>Run the analytics figures (issue 15) instead of the ingestion ones.</summary>
    public bool Analytics { get; init; }

    public int AnalyticsTraces { get; init; } = 1_000_000;

    public int AnalyticsDays { get; init; } = 30;

    public int QueryRepeats { get; init; } = 100;

    public int AnalyticsLiveSamples { get; init; } = 40;

    /// <summary>Rounds of ingestion alone and beside the rollup (the median ratio is the figure).</summary>
    public int AnalyticsRounds { get; init; } = 3;

    /// <summary>Run the settings cache figures (issue 14) instead of the ingestion ones.</summary>
    public bool SettingsCache { get; init; }

    public int CacheTeams { get; init; } = 200;

    public int CacheWorkers { get; init; } = 8;

    public double CacheSeconds { get; init; } = 15;

    public double CacheWarmupSeconds { get; init; } = 5;

    public int CacheWriteMs { get; init; } = 100;

    /// <summary>The app's (and the COPY's) connection string: the bench database on the bench cluster.</summary>
    public string AppPostgres => new NpgsqlConnectionStringBuilder(Postgres) { Database = Database }.ConnectionString;

    public string WebDll => Path.Combine(Repo, "EvalPlatform.Web", "bin", "Release", "net10.0", "EvalPlatform.Web.dll");

    public static BenchSettings Parse(string[] args)
    {
        var values = new Dictionary<string, string?>(StringComparer.Ordinal);
        for (var i = 0; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal))
            {
                throw new ArgumentException($"Unexpected argument '{args[i]}'.");
            }

            var name = args[i][2..];
            values[name] = name is "sweep" or "sample" or "analytics" or "settings-cache" ? "true" : i + 1 < args.Length ? args[++i] : throw new ArgumentException($"--{name} needs a value.");
        }

        string? Get(string name) => values.Remove(name, out var v) ? v : null;
        int Int(string name, int fallback) => Get(name) is { } v ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;
        double Number(string name, double fallback) => Get(name) is { } v ? double.Parse(v, CultureInfo.InvariantCulture) : fallback;

        if (values.ContainsKey("sample"))
        {
            return new BenchSettings { Postgres = "", Redis = "", Repo = "", Sample = true };
        }

        var settings = new BenchSettings
        {
            Postgres = Get("postgres") ?? throw new ArgumentException("--postgres is required."),
            Redis = Get("redis") ?? throw new ArgumentException("--redis is required."),
            Database = Get("database") ?? "evalbench",
            Repo = Get("repo") ?? FindRepo(),
            PostmasterPid = Get("postmaster-pid") is { Length: > 0 } pm ? int.Parse(pm, CultureInfo.InvariantCulture) : null,
            PidFile = Get("pid-file"),
            BatchTraces = Int("batch-traces", 60_000),
            BatchSize = Int("batch-size", 500),
            Clients = Int("clients", 4),
            WarmupTraces = Int("warmup-traces", 60_000),
            SingleRate = Number("single-rate", 200),
            SingleSeconds = Number("single-seconds", 15),
            LiveCount = Int("live-count", 500),
            LiveRate = Number("live-rate", 50),
            OtlpSpans = Int("otlp-spans", 30_600),
            LangSmithRuns = Int("langsmith-runs", 20_000),
            QuietWait = Number("quiet-wait", 120),
            Attempts = Math.Max(1, Int("attempts", 3)),
            Patience = Number("patience", 300),
            Sweep = Get("sweep") is not null,
            Analytics = Get("analytics") is not null,
            AnalyticsTraces = Int("analytics-traces", 1_000_000),
            AnalyticsDays = Int("analytics-days", 30),
            QueryRepeats = Math.Max(1, Int("query-repeats", 100)),
            AnalyticsLiveSamples = Math.Max(1, Int("live-samples", 40)),
            AnalyticsRounds = Math.Max(1, Int("analytics-rounds", 3)),
            SettingsCache = Get("settings-cache") is not null,
            CacheTeams = Math.Max(1, Int("cache-teams", 200)),
            CacheWorkers = Math.Max(1, Int("cache-workers", 8)),
            CacheSeconds = Number("cache-seconds", 15),
            CacheWarmupSeconds = Number("cache-warmup", 5),
            CacheWriteMs = Math.Max(1, Int("cache-write-ms", 100)),
        };
        if (values.Count > 0)
        {
            throw new ArgumentException($"Unknown option --{values.Keys.First()}.");
        }

        var pg = new NpgsqlConnectionStringBuilder(settings.Postgres);
        if (pg.Port == ForbiddenPgPort || settings.Redis.EndsWith($":{ForbiddenRedisPort}", StringComparison.Ordinal))
        {
            throw new ArgumentException($"Ports {ForbiddenPgPort}/{ForbiddenRedisPort} belong to the test suite's services; run the bench on its own (bench/run.sh).");
        }

        if (pg.Host is not ("127.0.0.1" or "localhost" or "::1") || !(settings.Redis.StartsWith("127.0.0.1:", StringComparison.Ordinal) || settings.Redis.StartsWith("localhost:", StringComparison.Ordinal)))
        {
            throw new ArgumentException("The bench only talks to services on loopback.");
        }

        if (settings.BatchSize is < 1 or > 1_000 || settings.Clients is < 1 or > 64 || settings.BatchTraces < settings.BatchSize)
        {
            throw new ArgumentException("--batch-size must be 1..1000, --clients 1..64, --batch-traces at least one batch.");
        }

        return settings;
    }

    private static string FindRepo()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "EvalPlatform.sln")))
            {
                return dir.FullName;
            }
        }

        throw new ArgumentException("Cannot find the repository (EvalPlatform.sln) above this binary; pass --repo.");
    }
}
