using System.Globalization;
using System.Text.Json;
using EvalPlatform.Core.Batches;
using EvalPlatform.Core.Common;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace EvalPlatform.Core.Playground;

/// <summary>
/// Runs a playground prompt over a fixed list of traces (a queue's or a filter's, resolved when the batch started) as a batch
/// run of kind <c>playground</c>: <see cref="ChunkSize"/> traces per chunk, the cursor is the next trace's index. For each
/// trace the prompt's variables are filled from the trace (<see cref="IPlaygroundTraceValues"/>, as "Open in playground";
/// the prompt's own values fill what the trace lacks) and every configuration is run through
/// <see cref="PlaygroundService.RunOneAsync"/>. Each trace × configuration is one item and one
/// <see cref="PlaygroundBatchResult"/>: a provider's refusal or a missing variable is that item's error, never the run's.
/// <para>
/// The job acts for the run's team (<see cref="TeamContext.SetJob"/>), which may only read; for the calls, each chunk acts
/// as the member or API key that started the batch, after checking that it still may use the playground (a member who
/// left or lost the role, or a revoked key, fails the run): the job never has more rights than its starter.
/// </para>
/// </summary>
public sealed class PlaygroundBatchHandler(IEvalDbContextFactory dbFactory, IServiceProvider services, TimeProvider clock) : IBatchRunHandler
{
    public const string BatchKind = "playground";
    public const int ChunkSize = 5;

    public string Kind => BatchKind;

    public Permission Permission => Permission.UsePlayground;

    /// <summary>The run's payload: the prompt (its values are defaults), the configurations and the traces, in order.</summary>
    public sealed record Payload(PlaygroundPrompt Prompt, IReadOnlyList<PlaygroundConfig> Configs, IReadOnlyList<Guid> TraceIds);

    public static string Write(Payload payload) => JsonSerializer.Serialize(payload, JsonSerializerOptions.Web);

    public static Payload Read(string json) =>
        JsonSerializer.Deserialize<Payload>(json, JsonSerializerOptions.Web) ?? throw new InvalidOperationException("A playground batch without a payload.");

    public async Task<BatchChunkResult> ProcessChunkAsync(BatchChunk chunk, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(chunk);
        var payload = Read(chunk.Payload);
        var from = chunk.Cursor is null ? 0 : int.Parse(chunk.Cursor, CultureInfo.InvariantCulture);
        var to = Math.Min(payload.TraceIds.Count, from + ChunkSize);
        var ids = payload.TraceIds.Skip(from).Take(to - from).ToList();
        var total = payload.TraceIds.Count * payload.Configs.Count;

        Dictionary<Guid, Traces.Trace> traces;
        ILookup<Guid, Traces.Span> spans;
        await using (var db = await dbFactory.CreateAsync(ct))
        {
            await ActAsStarterAsync(db, chunk, ct);
            traces = await db.Traces.AsNoTracking().Where(t => ids.Contains(t.Id)).ToDictionaryAsync(t => t.Id, ct);
            spans = (await db.Spans.AsNoTracking().Where(s => ids.Contains(s.TraceId)).ToListAsync(ct)).OrderBy(s => s.Position).ToLookup(s => s.TraceId);
        }

        // Resolved here, after acting as the starter: only a chunk needs the model clients and the trace reader.
        var playground = services.GetRequiredService<PlaygroundService>();
        var reader = services.GetRequiredService<IPlaygroundTraceValues>();
        int done = 0, failed = 0;
        string? lastError = null;
        var rows = new List<PlaygroundBatchResult>(ids.Count * payload.Configs.Count);
        for (var i = from; i < to; i++)
        {
            var traceId = payload.TraceIds[i];
            PlaygroundPrompt? prompt = null;
            string? traceError = null;
            if (traces.TryGetValue(traceId, out var trace))
            {
                prompt = payload.Prompt with { Variables = Merge(reader.From(trace, spans[traceId].ToList()), payload.Prompt.Variables) };
            }
            else
            {
                traceError = "The original trace is gone (deleted or past its retention).";
            }

            for (var c = 0; c < payload.Configs.Count; c++)
            {
                var config = payload.Configs[c];
                var result = traceError is null ? await RunAsync(playground, prompt!, config, ct) : Refused(config, traceError);
                rows.Add(Row(chunk, traceId, i, c, config, result));
                if (result.Succeeded)
                {
                    done++;
                }
                else
                {
                    failed++;
                    lastError = $"Trace {traceId}, configuration {c + 1}: {result.Error}";
                }
            }
        }

        await using (var db = await dbFactory.CreateAsync(ct))
        {
            // A chunk repeated after a crash replaces its rows: one result per run, trace and configuration.
            var positions = Enumerable.Range(from, to - from).ToList();
            await db.PlaygroundBatchResults.Where(r => r.BatchRunId == chunk.RunId && positions.Contains(r.Position)).ExecuteDeleteAsync(ct);
            db.PlaygroundBatchResults.AddRange(rows);
            await db.SaveChangesAsync(ct);
        }

        return new BatchChunkResult(to.ToString(CultureInfo.InvariantCulture), done, failed, to >= payload.TraceIds.Count, lastError, total);
    }

    /// <summary>The trace's values, then the prompt's own for the names the trace lacks.</summary>
    internal static Dictionary<string, string> Merge(IReadOnlyDictionary<string, string> fromTrace, IReadOnlyDictionary<string, string>? defaults)
    {
        var values = new Dictionary<string, string>(fromTrace, StringComparer.Ordinal);
        foreach (var (name, value) in defaults ?? new Dictionary<string, string>())
        {
            values.TryAdd(name, value);
        }

        return values;
    }

    private async Task<PlaygroundResult> RunAsync(PlaygroundService playground, PlaygroundPrompt prompt, PlaygroundConfig config, CancellationToken ct)
    {
        try
        {
            return await playground.RunOneAsync(prompt, config, ct);
        }
        catch (DomainValidationException e)
        {
            // This trace cannot fill the prompt (a variable it lacks, a value too long), or the connection is gone: this item's error.
            return Refused(config, $"{e.Field}: {e.Message}");
        }
    }

    private PlaygroundResult Refused(PlaygroundConfig config, string error) =>
        new("", config.Model, null, null, null, null, 0, null, clock.GetUtcNow(), error);

    private PlaygroundBatchResult Row(BatchChunk chunk, Guid traceId, int position, int configuration, PlaygroundConfig config, PlaygroundResult result) => new()
    {
        Id = Uuid7.Create(clock.GetUtcNow()),
        TeamId = chunk.TeamId,
        BatchRunId = chunk.RunId,
        TraceId = traceId,
        Position = position,
        Configuration = configuration,
        Model = Clip(result.Model ?? config.Model, PlaygroundService.MaxModelLength),
        Text = Clip(result.Text, PlaygroundService.MaxTextLength) ?? "",
        Error = Clip(result.Error, MaxError),
        ErrorStatus = result.ErrorStatus,
        InputTokens = result.InputTokens,
        OutputTokens = result.OutputTokens,
        Cost = result.Cost,
        LatencyMs = result.LatencyMs,
        CreatedAt = result.StartedAt,
    };

    /// <summary>The longest error kept on a result.</summary>
    public const int MaxError = 2000;

    private static string? Clip(string? text, int max) => text is { } t && t.Length > max ? t[..max] : text;

    /// <summary>Acts as the member or key that started the run, if it still may use the playground; otherwise the run fails.</summary>
    private async Task ActAsStarterAsync(IEvalDbContext db, BatchChunk chunk, CancellationToken ct)
    {
        var context = services.GetRequiredService<TeamContext>();
        const string keyPrefix = "api-key:";
        if (chunk.CreatedBy is { } by && by.StartsWith(keyPrefix, StringComparison.Ordinal) && Guid.TryParse(by[keyPrefix.Length..], out var keyId))
        {
            var key = await db.ApiKeys.AsNoTracking().SingleOrDefaultAsync(k => k.Id == keyId, ct);
            if (key is null || key.IsRevoked || !TeamPermissions.ScopesHave(key.Scopes, Permission.UsePlayground))
            {
                throw new PermissionDeniedException("The API key that started this batch was revoked or no longer has the 'admin' scope; the batch stops.");
            }

            context.SetApiKey(chunk.TeamId, key.Id, key.Scopes);
            return;
        }

        var member = chunk.CreatedBy is { } userId ? await db.TeamMembers.AsNoTracking().SingleOrDefaultAsync(m => m.UserId == userId, ct) : null;
        if (member is null || !TeamPermissions.RoleHas(member.Role, Permission.UsePlayground))
        {
            throw new PermissionDeniedException("The member who started this batch left the team or may no longer use the playground; the batch stops.");
        }

        context.SetMember(chunk.TeamId, member.UserId, member.Role);
    }
}
