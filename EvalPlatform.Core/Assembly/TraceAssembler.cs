using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using EvalPlatform.Core.Analytics;
using EvalPlatform.Core.Common;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Ingestion;
using EvalPlatform.Core.Live;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Core.Traces;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;

namespace EvalPlatform.Core.Assembly;

/// <summary>
/// Merges spans that arrive over several requests (OTLP exports, LangSmith runs) into stored traces
/// of the current team, keyed by the client's trace id (the trace's external id) and span id. Each
/// call is one transaction, answered after commit; the trace's summary fields (times, model, tokens,
/// cost, previews) are recomputed from all its spans, so arrival order does not matter. Concurrent
/// calls for the same trace are serialised (a PostgreSQL advisory lock per trace, which also holds
/// across nodes; one writer at a time on SQLite).
/// </summary>
public sealed class TraceAssembler(
    IEvalDbContextFactory dbFactory, ITeamContext team, ITraceLocks locks, ILiveBus liveBus, IStoreErrors storeErrors, TimeProvider clock,
    ILogger<TraceAssembler> logger)
{
    /// <summary>The most spans one assembled trace may hold (LangSmith allows 25,000 runs a trace; we keep a trace readable).</summary>
    public const int MaxSpansPerTrace = 10_000;

    /// <summary>The most characters of one span's attributes object.</summary>
    public const int MaxAttributesLength = 256 * 1024;

    /// <summary>Checks one record without storing anything; adds its problems to <paramref name="errors"/>, by its path.</summary>
    public static bool Validate(SpanRecord r, List<FieldError> errors)
    {
        var before = errors.Count;
        var at = r.Path.Length == 0 ? "" : r.Path + ".";
        Text(r.TraceKey, "trace_id", IngestionLimits.MaxShortText, required: true);
        Text(r.SpanKey, "span_id", IngestionLimits.MaxShortText, required: true);
        Text(r.ParentKey, "parent_id", IngestionLimits.MaxShortText);
        Text(r.Name, "name", IngestionLimits.MaxName);
        Text(r.Input, "input", IngestionLimits.MaxLongText);
        Text(r.Output, "output", IngestionLimits.MaxLongText);
        Text(r.Attributes, "attributes", MaxAttributesLength);
        Text(r.Error, "error", IngestionLimits.MaxErrorText);
        Text(r.Model, "model", IngestionLimits.MaxShortText);
        Text(r.Provider, "provider", IngestionLimits.MaxShortText);
        if (r.StartedAt is { } start && r.EndedAt is { } end && EndTimes.Refusal(start, end) is { } refusal)
        {
            errors.Add(new FieldError(at + "end_time", refusal));
        }

        if (r.PromptTokens < 0 || r.CompletionTokens < 0)
        {
            errors.Add(new FieldError(at + "usage", "Token counts must not be negative."));
        }

        if (r.Cost < 0)
        {
            errors.Add(new FieldError(at + "cost", "Must not be negative."));
        }

        if (r.Attributes is not null && !IsJsonObject(r.Attributes))
        {
            errors.Add(new FieldError(at + "attributes", "Must be a JSON object."));
        }

        if (r.Trace is { } h)
        {
            Text(h.Name, "trace.name", IngestionLimits.MaxName);
            foreach (var (value, name) in new[] { (h.SessionId, "session_id"), (h.UserId, "user_id"), (h.Environment, "environment"),
                         (h.Release, "release"), (h.Experiment, "experiment"), (h.Variant, "variant") })
            {
                Text(value, name, IngestionLimits.MaxShortText);
            }

            if (h.Tags?.Any(t => t.Length > IngestionLimits.MaxTagLength) == true)
            {
                errors.Add(new FieldError(at + "tags", $"A tag must be at most {IngestionLimits.MaxTagLength} characters."));
            }

            if (h.Metadata is not null && (h.Metadata.Length > MaxAttributesLength || !IsJsonObject(h.Metadata)))
            {
                errors.Add(new FieldError(at + "metadata", $"Must be a JSON object of at most {MaxAttributesLength} characters."));
            }

            if (h.TimeToFirstTokenMs is < 0 or double.NaN or double.PositiveInfinity)
            {
                errors.Add(new FieldError(at + "time_to_first_token_ms", "Must be a finite, non-negative number."));
            }
        }

        return errors.Count == before;

        void Text(string? value, string name, int max, bool required = false)
        {
            if (required && string.IsNullOrEmpty(value))
            {
                errors.Add(new FieldError(at + name, "Required."));
            }
            else if (value is not null && value.Length > max)
            {
                errors.Add(new FieldError(at + name, $"Must be at most {max} characters (got {value.Length})."));
            }
        }
    }

    /// <summary>
    /// Stores the valid records (one transaction) and reports each record's outcome in order.
    /// Records that fail <see cref="Validate"/> are skipped and reported, never half-applied. When the database
    /// refuses a value (<see cref="IStoreErrors"/>: a NUL character on PostgreSQL), nothing of that transaction is
    /// kept and each trace is stored again in its own, so only the trace holding the value is refused.
    /// </summary>
    public async Task<AssemblyResult> AssembleAsync(IReadOnlyList<SpanRecord> records, CancellationToken ct = default)
    {
        if (!team.Can(Permission.IngestTraces) || team.TeamId is not { } teamId)
        {
            throw new PermissionDeniedException("Sending traces needs an API key with the 'ingest' scope.");
        }

        var result = new Attempt();
        var valid = new bool[records.Count];
        for (var i = 0; i < records.Count; i++)
        {
            var before = result.Errors.Count;
            valid[i] = Validate(records[i], result.Errors);
            result.Issues.AddRange(result.Errors.Skip(before).Select(e => new IngestionIssueReport(
                IngestionIssueKind.Refused, IngestionIssueReport.FieldOf(e.Field, records[i].Path), e.Message, records[i].TraceKey, records[i].SpanKey)));
        }

        var outcomes = new AssembledSpan?[records.Count];
        var groups = Enumerable.Range(0, records.Count).Where(i => valid[i])
            .GroupBy(i => records[i].TraceKey, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal).ToList();
        if (groups.Count > 0)
        {
            try
            {
                result.Take(await StoreAsync(teamId, records, groups, outcomes, ct));
            }
            catch (Exception e) when (storeErrors.IsDataError(e))
            {
                logger.LogWarning("Assembling {Count} traces failed on a value ({Reason}); storing them one by one", groups.Count, storeErrors.Describe(e));
                foreach (var group in groups)
                {
                    try
                    {
                        result.Take(await StoreAsync(teamId, records, [group], outcomes, ct));
                    }
                    catch (Exception alone) when (storeErrors.IsDataError(alone))
                    {
                        var reason = $"The database could not store this trace: {storeErrors.Describe(alone)}";
                        foreach (var i in group)
                        {
                            outcomes[i] = null;
                            result.Errors.Add(new FieldError(records[i].Path is { Length: > 0 } path ? path : "$", reason));
                            result.Issues.Add(new IngestionIssueReport(IngestionIssueKind.Refused, "$", reason, records[i].TraceKey, records[i].SpanKey));
                        }
                    }
                }
            }
        }

        var spans = new AssembledSpan[records.Count];
        for (var i = 0; i < records.Count; i++)
        {
            spans[i] = outcomes[i] ?? new AssembledSpan(records[i].TraceKey, records[i].SpanKey, SpanOutcome.Rejected, null, null);
        }

        if (result.Created.Count > 0)
        {
            await liveBus.PublishAsync(new TracesIngested(
                teamId, result.Created.Select(t => t.Id).ToList(),
                result.Created.Take(TracesIngested.MaxSummaries).Select(TraceIngestionService.Summarize).ToList()), CancellationToken.None);
        }

        foreach (var id in result.Changed)
        {
            await liveBus.PublishAsync(new TraceUpdated(teamId, id), CancellationToken.None);
        }

        return new AssemblyResult(spans, result.Errors, result.Issues);
    }

    /// <summary>What one transaction decided: kept only when it committed.</summary>
    private sealed class Attempt
    {
        public List<FieldError> Errors { get; } = [];
        public List<IngestionIssueReport> Issues { get; } = [];
        public List<Trace> Created { get; } = [];
        public List<Guid> Changed { get; } = [];

        public void Take(Attempt committed)
        {
            Errors.AddRange(committed.Errors);
            Issues.AddRange(committed.Issues);
            Created.AddRange(committed.Created);
            Changed.AddRange(committed.Changed);
        }

        public void Refuse(SpanRecord record, string field, string reason)
        {
            Errors.Add(new FieldError(PathOf(record, field), reason));
            Issues.Add(new IngestionIssueReport(IngestionIssueKind.Refused, field, reason, record.TraceKey, record.SpanKey));
        }
    }

    /// <summary>
    /// Stores the records of <paramref name="groups"/> (one group per trace) in one transaction, locked per trace,
    /// and sets their <paramref name="outcomes"/>. Reads everything afresh, so a failed attempt can be tried again.
    /// </summary>
    private async Task<Attempt> StoreAsync(
        Guid teamId, IReadOnlyList<SpanRecord> records, IReadOnlyList<IGrouping<string, int>> groups, AssembledSpan?[] outcomes, CancellationToken ct)
    {
        var attempt = new Attempt();
        var keys = groups.Select(g => g.Key).ToList();
        await using var db = await dbFactory.CreateAsync(ct);
        await using var transaction = await db.Database.BeginTransactionAsync(ct);
        await using var held = await locks.LockAsync(db, teamId, keys, ct);

        var now = clock.GetUtcNow();
        var traces = await db.Traces.Where(t => keys.Contains(t.ExternalId!)).ToDictionaryAsync(t => t.ExternalId!, StringComparer.Ordinal, ct);
        var traceIds = traces.Values.Select(t => t.Id).ToList();
        var spansByTrace = (await db.Spans.Where(s => traceIds.Contains(s.TraceId)).ToListAsync(ct))
            .GroupBy(s => s.TraceId).ToDictionary(g => g.Key, g => g.ToList());

        foreach (var group in groups)
        {
            var isNew = !traces.TryGetValue(group.Key, out var trace);
            if (trace is not null && !trace.ContentHash.AsSpan().SequenceEqual(AssembledHash(group.Key)))
            {
                // A trace sent whole through the trace API owns this external id: its fields are the client's, not sums of spans.
                foreach (var i in group)
                {
                    attempt.Refuse(records[i], "trace_id",
                        $"The trace with external id '{group.Key}' was sent whole through the trace API; spans cannot be added to it.");
                }

                continue;
            }

            if (trace is null)
            {
                trace = NewTrace(teamId, group.Key, now);
                traces[group.Key] = trace;
            }

            var spans = spansByTrace.TryGetValue(trace.Id, out var list) ? list : [];
            var oldRootName = Root(spans)?.Name;
            var byKey = spans.Where(s => s.ExternalId is not null).ToDictionary(s => s.ExternalId!, StringComparer.Ordinal);
            var any = false;
            foreach (var i in group)
            {
                var record = records[i];
                var (span, outcome, refusal) = Apply(record, byKey, trace, teamId, spans.Count, now, attempt.Issues, out var added);
                if (refusal is { } r)
                {
                    attempt.Refuse(record, r.Field, r.Reason);
                }

                if (added)
                {
                    spans.Add(span!);
                    db.Spans.Add(span!);
                }

                any |= outcome is SpanOutcome.Created or SpanOutcome.Updated;
                // A refused record (duplicate, or over the span limit) applies nothing, its trace-level facts included.
                if (outcome is not (SpanOutcome.Duplicate or SpanOutcome.Rejected))
                {
                    any |= ApplyHints(trace, record.Trace);
                }
                outcomes[i] = new AssembledSpan(record.TraceKey, record.SpanKey, outcome, outcome == SpanOutcome.Rejected ? null : trace.Id, span?.Id);
            }

            if (isNew)
            {
                if (spans.Count == 0)
                {
                    continue;
                }

                db.Traces.Add(trace);
            }

            if (isNew || any)
            {
                Link(spans);
                var oldMinute = MetricInterval.Minute.Floor(trace.StartedAt);
                Summarize(trace, spans, oldRootName, now);
                if (!isNew && MetricInterval.Minute.Floor(trace.StartedAt) != oldMinute)
                {
                    // The trace left the minute it was counted in: the rollup finds its new minute by UpdatedAt, but the
                    // old one only by this mark (ADR 17).
                    db.MetricDirtyMinutes.Add(new MetricDirtyMinute { Id = Uuid7.Create(now), TeamId = teamId, Minute = oldMinute, MarkedAt = now });
                }
                if (isNew)
                {
                    attempt.Created.Add(trace);
                }
                else
                {
                    attempt.Changed.Add(trace.Id);
                }
            }
        }

        await db.SaveChangesAsync(ct);
        await transaction.CommitAsync(ct);
        return attempt;
    }

    private static Trace NewTrace(Guid teamId, string key, DateTimeOffset now)
    {
        var id = Uuid7.Create(now);
        return new Trace
        {
            Id = id, TeamId = teamId, ExternalId = key, CreatedAt = now, UpdatedAt = now, StartedAt = now,
            SortKey = Trace.MakeSortKey(now, id),
            ContentHash = AssembledHash(key),
        };
    }

    /// <summary>
    /// The fixed content hash of an assembled trace (it changes as spans arrive): a native POST with the same
    /// external id is a different trace (409), and assembly never merges into a trace sent whole.
    /// </summary>
    private static byte[] AssembledHash(string key) => SHA256.HashData(Encoding.UTF8.GetBytes("assembled\n" + key));

    private static string PathOf(SpanRecord record, string field) => (record.Path.Length == 0 ? "" : record.Path + ".") + field;

    /// <summary>
    /// Applies one record to its span (new, placeholder or existing); non-null fields win. A record is refused
    /// (nothing applied) when the trace is full or when it would leave the span ending more than
    /// <see cref="IngestionLimits.MaxEndBeforeStart"/> before it starts.
    /// </summary>
    private static (Span? Span, SpanOutcome Outcome, (string Field, string Reason)? Refusal) Apply(
        SpanRecord r, Dictionary<string, Span> byKey, Trace trace, Guid teamId, int count, DateTimeOffset now,
        List<IngestionIssueReport> issues, out bool added)
    {
        added = false;
        if (!byKey.TryGetValue(r.SpanKey, out var span))
        {
            if (count >= MaxSpansPerTrace)
            {
                return (null, SpanOutcome.Rejected, ("span_id", $"The trace already holds {MaxSpansPerTrace} spans, the most one trace may hold."));
            }

            span = new Span
            {
                Id = Uuid7.Create(now), TeamId = teamId, TraceId = trace.Id, ExternalId = r.SpanKey,
                Name = r.Name ?? r.SpanKey, Kind = r.Kind ?? SpanKind.Other, StartedAt = r.StartedAt ?? r.EndedAt ?? now,
                Position = count, Placeholder = r.IsUpdate,
            };
            Merge(span, r);
            KeepEndAfterStart(span, r, issues);
            byKey[r.SpanKey] = span;
            added = true;
            return (span, SpanOutcome.Created, null);
        }

        if (r.RejectIfExists && !span.Placeholder)
        {
            return (span, SpanOutcome.Duplicate, null);
        }

        // A placeholder's start is a stand-in until its create arrives, so only a real span's times are checked.
        if (!(r.IsUpdate && span.Placeholder) && (r.EndedAt ?? span.EndedAt) is { } end
            && EndTimes.Refusal(r.StartedAt ?? span.StartedAt, end) is { } refusal)
        {
            return (span, SpanOutcome.Rejected, ("end_time", refusal));
        }

        var changed = Merge(span, r);
        if (!r.IsUpdate && span.Placeholder)
        {
            span.Placeholder = false;
            changed = true;
        }

        changed |= KeepEndAfterStart(span, r, issues);
        return (span, changed ? SpanOutcome.Updated : SpanOutcome.Unchanged, null);
    }

    /// <summary>
    /// A span that ends before it starts (within <see cref="IngestionLimits.MaxEndBeforeStart"/>, checked
    /// before) is stored with zero length, the client's end kept in <see cref="EndTimes.OriginalEndAttribute"/> and
    /// reported as adjusted, by <see cref="EndTimes"/>, the rule every door shares. The LangSmith JS SDK does this
    /// by design: its starts carry microseconds, its ends milliseconds. A placeholder's start is a stand-in, so it
    /// moves to the end instead.
    /// </summary>
    private static bool KeepEndAfterStart(Span span, SpanRecord r, List<IngestionIssueReport> issues)
    {
        if (span.EndedAt is not { } end || end >= span.StartedAt)
        {
            return false;
        }

        if (span.Placeholder)
        {
            span.StartedAt = end;
            span.DurationMs = 0;
            return true;
        }

        (span.Attributes, var reason) = EndTimes.KeepOriginal(span.Attributes, end, span.StartedAt - end);
        span.EndedAt = span.StartedAt;
        span.DurationMs = 0;
        issues.Add(new IngestionIssueReport(IngestionIssueKind.Adjusted, "end_time", reason, r.TraceKey, r.SpanKey));
        return true;
    }

    /// <summary>Whether <paramref name="end"/> is the client's end that <see cref="KeepEndAfterStart"/> already moved (a retry changes nothing).</summary>
    private static bool IsAdjustedEnd(Span span, DateTimeOffset end) =>
        span.EndedAt == span.StartedAt && EndTimes.IsKeptOriginal(span.Attributes, end);

    private static bool Merge(Span span, SpanRecord r)
    {
        var changed = false;
        Set(r.ParentKey == r.SpanKey ? null : r.ParentKey, span.ParentExternalId, v => span.ParentExternalId = v);
        Set(r.Name, span.Name, v => span.Name = v!);
        if (r.Kind is { } kind && kind != span.Kind)
        {
            span.Kind = kind;
            changed = true;
        }

        // Times and costs are compared as the databases keep them (SQLite: 0.1 ms, PostgreSQL: 1 µs;
        // cost: 8 decimals, rounded as PostgreSQL's numeric rounds), or a retried export (OTLP times
        // are nanoseconds) would count as a change forever.
        if (r.StartedAt is { } start && Stored(start) != span.StartedAt)
        {
            span.StartedAt = Stored(start);
            changed = true;
        }

        if (r.EndedAt is { } end && Stored(end) != span.EndedAt && !IsAdjustedEnd(span, Stored(end)))
        {
            span.EndedAt = Stored(end);
            changed = true;
        }

        span.DurationMs = span.EndedAt is { } e ? Math.Max(0, (e - span.StartedAt).TotalMilliseconds) : null;
        Set(r.Input, span.Input, v => span.Input = v);
        Set(r.Output, span.Output, v => span.Output = v);
        Set(r.Error, span.Error, v => span.Error = v);
        Set(r.Model, span.Model, v => span.Model = v);
        Set(r.Provider, span.Provider, v => span.Provider = v);
        if (r.PromptTokens is { } p && p != span.PromptTokens)
        {
            span.PromptTokens = p;
            changed = true;
        }

        if (r.CompletionTokens is { } c && c != span.CompletionTokens)
        {
            span.CompletionTokens = c;
            changed = true;
        }

        if (r.Cost is { } cost && Math.Round(cost, 8, MidpointRounding.AwayFromZero) != span.Cost)
        {
            span.Cost = Math.Round(cost, 8, MidpointRounding.AwayFromZero);
            changed = true;
        }

        if (r.Attributes is not null)
        {
            Set(StoredJson.MergeObjects(span.Attributes, r.Attributes), span.Attributes, v => span.Attributes = v);
        }

        return changed;

        void Set(string? value, string? current, Action<string?> assign) => changed |= SetIfNew(value, current, assign);
    }

    /// <summary>Merges trace-level facts: later non-null values win, tags add up, metadata keys merge.</summary>
    private static bool ApplyHints(Trace trace, TraceHints? h)
    {
        if (h is null)
        {
            return false;
        }

        var changed = false;
        Set(h.Name, trace.Name, v => trace.Name = v);
        Set(h.SessionId, trace.SessionId, v => trace.SessionId = v);
        Set(h.UserId, trace.UserId, v => trace.UserId = v);
        Set(h.Environment, trace.Environment, v => trace.Environment = v);
        Set(h.Release, trace.Release, v => trace.Release = v);
        Set(h.Experiment, trace.Experiment, v => trace.Experiment = v);
        Set(h.Variant, trace.Variant, v => trace.Variant = v);
        if (h.Metadata is not null)
        {
            Set(StoredJson.MergeObjects(trace.Metadata, h.Metadata), trace.Metadata, v => trace.Metadata = v);
        }

        if (h.TimeToFirstTokenMs is { } ttft && ttft != trace.TimeToFirstTokenMs)
        {
            trace.TimeToFirstTokenMs = ttft;
            changed = true;
        }

        var tags = h.Tags?.Where(t => t.Length > 0 && !trace.Tags.Contains(t)).Distinct().ToList() ?? [];
        if (tags.Count > 0 && trace.Tags.Count < IngestionLimits.MaxTags)
        {
            trace.Tags = [.. trace.Tags, .. tags.Take(IngestionLimits.MaxTags - trace.Tags.Count)];
            changed = true;
        }

        return changed;

        void Set(string? value, string? current, Action<string?> assign) => changed |= SetIfNew(value, current, assign);
    }

    /// <summary>Assigns a non-null value that differs from the current one; says whether it did.</summary>
    private static bool SetIfNew(string? value, string? current, Action<string?> assign)
    {
        if (value is null || string.Equals(value, current, StringComparison.Ordinal))
        {
            return false;
        }

        assign(value);
        return true;
    }

    /// <summary>Resolves parents by external id (a parent that has not arrived leaves the span a root) and breaks cycles.</summary>
    private static void Link(List<Span> spans)
    {
        var byKey = spans.Where(s => s.ExternalId is not null).ToDictionary(s => s.ExternalId!, StringComparer.Ordinal);
        foreach (var span in spans)
        {
            span.ParentSpanId = span.ParentExternalId is { } key && byKey.TryGetValue(key, out var parent) && parent != span ? parent.Id : null;
        }

        var byId = spans.ToDictionary(s => s.Id);
        foreach (var span in spans)
        {
            var seen = new HashSet<Guid> { span.Id };
            var current = span;
            while (current.ParentSpanId is { } p && byId.TryGetValue(p, out var next))
            {
                if (!seen.Add(next.Id))
                {
                    // Clients' parent links formed a loop: the span that closes it becomes a root.
                    current.ParentSpanId = null;
                    break;
                }

                current = next;
            }
        }
    }

    private static Span? Root(IReadOnlyList<Span> spans) =>
        spans.Where(s => s.ParentSpanId is null).OrderBy(s => s.Placeholder).ThenBy(s => s.StartedAt).ThenBy(s => s.Position).FirstOrDefault();

    /// <summary>The trace's list and filter fields, from all its spans (what native ingestion takes from the request).</summary>
    private static void Summarize(Trace trace, List<Span> spans, string? oldRootName, DateTimeOffset now)
    {
        // A parent sorts before its children when their starts tie (likely at 0.1 ms), whatever arrived first.
        var depth = Depths(spans);
        var ordered = spans.OrderBy(s => s.StartedAt).ThenBy(s => depth[s.Id]).ThenBy(s => s.Position).ToList();
        for (var i = 0; i < ordered.Count; i++)
        {
            ordered[i].Position = i;
        }

        var root = Root(ordered);
        if (trace.Name is null || trace.Name == oldRootName)
        {
            trace.Name = root?.Name;
        }

        var real = ordered.Where(s => !s.Placeholder).ToList();
        trace.StartedAt = (real.Count > 0 ? real : ordered).Min(s => s.StartedAt);
        trace.EndedAt = ordered.All(s => s.EndedAt is not null) ? ordered.Max(s => s.EndedAt) : null;
        trace.LatencyMs = trace.EndedAt is { } end ? Math.Max(0, (end - trace.StartedAt).TotalMilliseconds) : null;

        var generations = ordered.Where(s => s.Kind == SpanKind.Llm).ToList();
        var generation = generations.FirstOrDefault();
        trace.Model = generation?.Model ?? ordered.FirstOrDefault(s => s.Model is not null)?.Model;
        trace.Provider = generation?.Provider ?? ordered.FirstOrDefault(s => s.Provider is not null)?.Provider;
        trace.PromptTokens = Sum(generations.Select(s => s.PromptTokens));
        trace.CompletionTokens = Sum(generations.Select(s => s.CompletionTokens));
        trace.TotalTokens = trace.PromptTokens is null && trace.CompletionTokens is null ? null : (trace.PromptTokens ?? 0) + (trace.CompletionTokens ?? 0);

        decimal? cost = null;
        var computed = false;
        foreach (var s in ordered)
        {
            var c = s.Cost;
            if (c is null && s.Kind == SpanKind.Llm && ModelPrices.Compute(s.Model, s.PromptTokens, s.CompletionTokens) is { } price)
            {
                c = price;
                computed = true;
            }

            cost = c is null ? cost : (cost ?? 0) + c;
        }

        trace.Cost = cost;
        trace.CostComputed = cost is not null && computed;
        trace.Error = root?.Error ?? ordered.FirstOrDefault(s => s.Error is not null)?.Error;

        var (input, output) = generation is not null
            ? (LastUserText(generation.Input), ResponseText(generation.Output))
            : (PlainText(root?.Input), PlainText(root?.Output));
        input ??= PlainText(root?.Input);
        output ??= PlainText(root?.Output);
        trace.InputPreview = TraceParser.Preview(input);
        trace.OutputPreview = TraceParser.Preview(output);
        trace.SearchText = TraceParser.SearchText(input, output);
        trace.UpdatedAt = now;
    }

    /// <summary>Each span's depth in the tree (roots 0); parent links are acyclic after <see cref="Link"/>.</summary>
    private static Dictionary<Guid, int> Depths(List<Span> spans)
    {
        var byId = spans.ToDictionary(s => s.Id);
        var depths = new Dictionary<Guid, int>(spans.Count);
        foreach (var span in spans)
        {
            var d = 0;
            for (var current = span; current.ParentSpanId is { } p && byId.TryGetValue(p, out var parent) && d < spans.Count; current = parent)
            {
                d++;
            }

            depths[span.Id] = d;
        }

        return depths;
    }

    private static int? Sum(IEnumerable<int?> values)
    {
        int? total = null;
        foreach (var v in values)
        {
            total = v is null ? total : (total ?? 0) + v;
        }

        return total;
    }

    private static string? LastUserText(string? inputJson)
    {
        if (StoredJson.TryParse(inputJson) is not { } input)
        {
            return null;
        }

        var messages = input.ValueKind == JsonValueKind.Object && input.TryGetProperty("messages", out var m) ? m : input;
        return messages.ValueKind == JsonValueKind.Array
            ? messages.EnumerateArray().Where(e => e.ValueKind == JsonValueKind.Object && e.TryGetProperty("role", out var r) && r.ValueEquals("user"))
                .Select(TraceParser.ContentText).LastOrDefault(t => t is not null)
            : null;
    }

    private static string? ResponseText(string? outputJson)
    {
        if (StoredJson.TryParse(outputJson) is not { } output)
        {
            return null;
        }

        if (output.ValueKind == JsonValueKind.String)
        {
            return output.GetString();
        }

        if (output.ValueKind == JsonValueKind.Object && output.TryGetProperty("choices", out var choices) && choices.ValueKind == JsonValueKind.Array
            && choices.GetArrayLength() > 0 && choices[0].ValueKind == JsonValueKind.Object && choices[0].TryGetProperty("message", out var message))
        {
            return TraceParser.ContentText(message);
        }

        return TraceParser.ContentText(output);
    }

    /// <summary>A JSON value as list text: a string's own text, anything else its JSON.</summary>
    private static string? PlainText(string? json) =>
        StoredJson.TryParse(json) is { } value ? (value.ValueKind == JsonValueKind.String ? value.GetString() : json) : json;

    private static bool IsJsonObject(string json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = IngestionLimits.MaxJsonDepth });
            return doc.RootElement.ValueKind == JsonValueKind.Object;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>
    /// A time as every database keeps it: whole 0.1 ms (SQLite's <c>DateTimeOffsetToBinaryConverter</c>
    /// truncates there; PostgreSQL keeps microseconds), so a stored span compares equal to its retry,
    /// and spans sort the same on both. It is also the trace view's resolution.
    /// </summary>
    private static DateTimeOffset Stored(DateTimeOffset time) => time.AddTicks(-(time.Ticks % 1000));
}
