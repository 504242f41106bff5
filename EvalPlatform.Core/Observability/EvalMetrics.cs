using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace EvalPlatform.Core.Observability;

/// <summary>
/// The platform's own instruments, all of them, on one <see cref="Meter"/> named <see cref="MeterName"/> (and one
/// <see cref="ActivitySource"/> of the same name for its own spans). Callers never create instruments: they call the
/// methods here, so every metric name the Grafana dashboard (docs/grafana/evalplatform.json) queries is defined in this
/// file. No instrument carries a team id: the scrape endpoint is team-less by construction (ADR 48).
/// </summary>
public sealed class EvalMetrics
{
    public const string MeterName = "EvalPlatform";

    /// <summary>The app's own spans (ingestion commits, job runs), exported with ASP.NET Core's when OTLP is configured.</summary>
    public static readonly ActivitySource Activities = new(MeterName);

    private readonly Meter _meter;
    private readonly Histogram<double> _commitDuration;
    private readonly Counter<long> _tracesStored;
    private readonly Counter<long> _commits;
    private readonly Counter<long> _liveDeliveries;
    private readonly Histogram<double> _liveDeliveryDuration;
    private readonly Counter<long> _jobRuns;
    private readonly Histogram<double> _jobDuration;
    private readonly Gauge<long> _outboxDue;
    private readonly Counter<long> _cacheRequests;
    private readonly Counter<long> _cacheInvalidations;

    public EvalMetrics(IMeterFactory meters)
    {
        _meter = meters.Create(MeterName);
        _commitDuration = _meter.CreateHistogram<double>("evalplatform.ingestion.commit.duration", "s",
            "Time one group commit took to store its requests (outcome: stored or failed).",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] });
        _tracesStored = _meter.CreateCounter<long>("evalplatform.ingestion.traces", "{trace}", "Traces handed to the store by group commits that succeeded.");
        _commits = _meter.CreateCounter<long>("evalplatform.ingestion.commits", "{commit}", "Group commits, by outcome.");
        _liveDeliveries = _meter.CreateCounter<long>("evalplatform.live.deliveries", "{event}", "Live events handed to a subscriber (an open page) on this node.");
        _liveDeliveryDuration = _meter.CreateHistogram<double>("evalplatform.live.delivery.duration", "s",
            "From an event reaching this node's dispatcher to its subscriber having handled it.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5] });
        _jobRuns = _meter.CreateCounter<long>("evalplatform.jobs.runs", "{run}", "Scheduled job runs on this node, by job and outcome.");
        _jobDuration = _meter.CreateHistogram<double>("evalplatform.jobs.duration", "s", "How long a job run took, by job.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300] });
        _outboxDue = _meter.CreateGauge<long>("evalplatform.outbox.due", "{delivery}", "Notification deliveries due for sending when the delivery job last looked (the outbox backlog).");
        _cacheRequests = _meter.CreateCounter<long>("evalplatform.cache.requests", "{request}", "Reads through the settings cache, by cache and result (hit or miss).");
        _cacheInvalidations = _meter.CreateCounter<long>("evalplatform.cache.invalidations", "{invalidation}", "Entries removed because what they hold changed, by cache.");
    }

    /// <summary>Called once by the ingestion queue: its depth is read when the metrics are collected, not on every request.</summary>
    public void ObserveIngestionQueue(Func<int> requests, Func<long> bytes)
    {
        _meter.CreateObservableGauge("evalplatform.ingestion.queue.requests", requests, "{request}", "Ingestion requests waiting for a writer.");
        _meter.CreateObservableGauge("evalplatform.ingestion.queue.bytes", bytes, "By", "Bytes of trace JSON waiting for a writer.");
    }

    public void CommitSucceeded(TimeSpan elapsed, int traces)
    {
        _commitDuration.Record(elapsed.TotalSeconds, new KeyValuePair<string, object?>("outcome", "stored"));
        _commits.Add(1, new KeyValuePair<string, object?>("outcome", "stored"));
        _tracesStored.Add(traces);
    }

    public void CommitFailed(TimeSpan elapsed)
    {
        _commitDuration.Record(elapsed.TotalSeconds, new KeyValuePair<string, object?>("outcome", "failed"));
        _commits.Add(1, new KeyValuePair<string, object?>("outcome", "failed"));
    }

    public void LiveDelivered(TimeSpan elapsed)
    {
        _liveDeliveries.Add(1);
        _liveDeliveryDuration.Record(elapsed.TotalSeconds);
    }

    public void JobRan(string job, bool succeeded, TimeSpan elapsed)
    {
        var jobTag = new KeyValuePair<string, object?>("job", job);
        _jobRuns.Add(1, jobTag, new KeyValuePair<string, object?>("outcome", succeeded ? "succeeded" : "failed"));
        _jobDuration.Record(elapsed.TotalSeconds, jobTag);
    }

    public void OutboxDue(long deliveries) => _outboxDue.Record(deliveries);

    public void CacheRead(string cache, bool hit) =>
        _cacheRequests.Add(1, new KeyValuePair<string, object?>("cache", cache), new KeyValuePair<string, object?>("result", hit ? "hit" : "miss"));

    public void CacheInvalidated(string cache) => _cacheInvalidations.Add(1, new KeyValuePair<string, object?>("cache", cache));

    /// <summary>Meters for a service collection without the host's <see cref="IMeterFactory"/>; disposed with the container.</summary>
    public sealed class OwnMeters : IMeterFactory
    {
        private readonly List<Meter> _meters = [];

        public Meter Create(MeterOptions options)
        {
            var meter = new Meter(options);
            lock (_meters)
            {
                _meters.Add(meter);
            }

            return meter;
        }

        public void Dispose()
        {
            lock (_meters)
            {
                _meters.ForEach(m => m.Dispose());
                _meters.Clear();
            }
        }
    }
}
