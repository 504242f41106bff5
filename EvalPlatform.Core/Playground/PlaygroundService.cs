using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using EvalPlatform.Core.Common;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Ingestion;
using EvalPlatform.Core.Providers;
using EvalPlatform.Core.Providers.Proxy;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;

namespace EvalPlatform.Core.Playground;

/// <summary>
/// The playground's work, for the current team (<see cref="Permission.UsePlayground"/>): runs a prompt with 1–4 model
/// configurations side by side (<see cref="RunAsync"/>, streamed; <see cref="RunOneAsync"/> for a batch), each call through
/// <see cref="ILlmChat"/> with one of the team's connections (so it is timed, priced and counted like every call the
/// platform makes), and saves results as traces through the normal ingestion path (<see cref="SaveAsync"/>), built by the
/// proxy's trace builder so a playground answer looks exactly like a proxied one. The page only renders.
/// </summary>
public sealed partial class PlaygroundService(
    IEvalDbContextFactory dbFactory, ITeamContext team, IProviderConnections connections, IProviderModels models, ILlmChat chat,
    TraceIngestionService ingestion, TimeProvider clock, ILogger<PlaygroundService> logger)
{
    public const int MaxConfigs = 4;
    public const int MaxMessages = 100;
    public const int MaxTextLength = 100_000;
    public const int MaxModelLength = 200;
    public const int MaxOutputTokens = 200_000;

    /// <summary>What a column says when its run was cancelled.</summary>
    public const string CancelledMessage = "Cancelled.";

    /// <summary>The team's connections, oldest first.</summary>
    public async Task<IReadOnlyList<PlaygroundConnection>> ConnectionsAsync(CancellationToken ct = default)
    {
        RequireUse();
        await using var db = await dbFactory.CreateAsync(ct);
        var rows = await db.ProviderConnections.AsNoTracking().ToListAsync(ct);
        return rows.OrderBy(c => c.CreatedAt).ThenBy(c => c.Id).Select(c => new PlaygroundConnection(c.Id, c.Name, c.Kind)).ToList();
    }

    /// <summary>The models a connection's provider lists (its models endpoint), or why not.</summary>
    public async Task<ProviderModelsResult> ModelsAsync(Guid connectionId, CancellationToken ct = default)
    {
        RequireUse();
        var provider = await connections.FindAsync(connectionId, ct) ?? throw new NotFoundException("No such connection in this team.");
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
    /// Runs the prompt with every configuration at once: each column's text as it arrives, then each column's result
    /// (answered, refused by its provider, or cancelled) exactly once. A provider's refusal is that column's result, never
    /// an exception; invalid input and an unknown connection are refused before any call (the error names the field).
    /// Cancelling <paramref name="ct"/> stops every stream; the columns then end as cancelled, with what had arrived.
    /// </summary>
    public async IAsyncEnumerable<PlaygroundUpdate> RunAsync(
        PlaygroundPrompt prompt, IReadOnlyList<PlaygroundConfig> configs, [EnumeratorCancellation] CancellationToken ct = default)
    {
        RequireUse();
        var (system, messages) = Prepare(prompt);
        var providers = await ResolveAsync(configs, ct);
        var channel = Channel.CreateUnbounded<PlaygroundUpdate>(new UnboundedChannelOptions { SingleReader = true });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var columns = configs.Select((config, i) => ColumnAsync(i, providers[i], Request(config, system, messages), channel.Writer, stop.Token)).ToArray();
        _ = Task.WhenAll(columns).ContinueWith(_ => channel.Writer.TryComplete(), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        try
        {
            // Not the caller's token: after a cancel the columns still report how they ended.
            await foreach (var update in channel.Reader.ReadAllAsync(CancellationToken.None))
            {
                yield return update;
            }
        }
        finally
        {
            // A reader that stops early stops the calls too, and waits for them, so no call outlives the run.
            await stop.CancelAsync();
            await Task.WhenAll(columns);
        }
    }

    /// <summary>One configuration's whole answer (the batch's call): never throws for a provider's refusal.</summary>
    public async Task<PlaygroundResult> RunOneAsync(PlaygroundPrompt prompt, PlaygroundConfig config, CancellationToken ct = default)
    {
        RequireUse();
        var (system, messages) = Prepare(prompt);
        var provider = (await ResolveAsync([config], ct))[0];
        var started = clock.GetUtcNow();
        var watch = Stopwatch.StartNew();
        try
        {
            var r = await chat.CompleteAsync(provider, Request(config, system, messages), ct);
            return new PlaygroundResult(r.Text, r.Model, r.FinishReason, r.InputTokens, r.OutputTokens, r.Cost, r.Latency.TotalMilliseconds, r.TimeToFirstToken?.TotalMilliseconds, started);
        }
        catch (LlmCallException e)
        {
            return new PlaygroundResult("", config.Model, null, null, null, null, watch.Elapsed.TotalMilliseconds, null, started, e.Message, e.Status);
        }
    }

    /// <summary>
    /// Saves columns as traces through the normal ingestion path (the proxy's trace builder; tagged <c>playground</c>, live
    /// on open pages), their metadata naming the configuration, the connection and the original trace when the prompt was
    /// opened from one. Returns each stored trace's id, in order (null for one ingestion did not store).
    /// </summary>
    public async Task<IReadOnlyList<Guid?>> SaveAsync(
        PlaygroundPrompt prompt, IReadOnlyList<PlaygroundSaveItem> items, Guid? originalTraceId, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(items);
        RequireUse();
        if (items.Count is 0 or > MaxConfigs)
        {
            throw new DomainValidationException("items", $"Save 1 to {MaxConfigs} results.");
        }

        var (system, messages) = Prepare(prompt);
        await using var db = await dbFactory.CreateAsync(ct);
        if (originalTraceId is { } original && !await db.Traces.AnyAsync(t => t.Id == original, ct))
        {
            throw new NotFoundException($"No trace {original} in this team.");
        }

        var ids = items.Select(i => i.Config.ConnectionId).Distinct().ToArray();
        var rows = await db.ProviderConnections.AsNoTracking().Where(c => ids.Contains(c.Id)).ToDictionaryAsync(c => c.Id, ct);
        var traces = new List<JsonElement>(items.Count);
        for (var i = 0; i < items.Count; i++)
        {
            var item = items[i];
            if (!rows.TryGetValue(item.Config.ConnectionId, out var connection))
            {
                throw new DomainValidationException($"items[{i}].connection_id", "No such connection in this team.");
            }

            var trace = ProxyTraceBuilder.Build(Exchange(connection, item, system, messages));
            var metadata = (JsonObject)trace["metadata"]!;
            metadata.Remove("proxy");
            var playground = new JsonObject
            {
                ["configuration"] = item.Column + 1,
                ["connection"] = connection.Name,
                ["connection_id"] = connection.Id.ToString(),
            };
            if (originalTraceId is { } from)
            {
                playground["original_trace_id"] = from.ToString();
            }

            if (item.Result.ErrorStatus is { } status)
            {
                playground["status"] = status;
            }

            if (item.Result.Cancelled)
            {
                playground["cancelled"] = true;
            }

            metadata["playground"] = playground;
            if (prompt.Variables is { Count: > 0 } variables)
            {
                metadata["variables"] = new JsonObject(variables.Select(v => KeyValuePair.Create(v.Key, (JsonNode?)v.Value)));
            }

            traces.Add(JsonSerializer.SerializeToElement(trace));
        }

        var outcome = await ingestion.IngestPlaygroundAsync(traces, ct);
        foreach (var item in outcome.Items.Where(i => !i.IsStored))
        {
            LogNotStored(logger, string.Join("; ", item.Errors.Select(e => $"{e.Field}: {e.Message}")));
        }

        return outcome.Items.OrderBy(i => i.Index).Select(i => i.IsStored ? i.Id : null).ToList();
    }

    private async Task ColumnAsync(int column, ResolvedProvider provider, LlmChatRequest request, ChannelWriter<PlaygroundUpdate> writer, CancellationToken ct)
    {
        var started = clock.GetUtcNow();
        var watch = Stopwatch.StartNew();
        var text = new System.Text.StringBuilder();
        double? firstToken = null;
        PlaygroundResult result;
        try
        {
            LlmChatResult? final = null;
            await foreach (var chunk in chat.StreamAsync(provider, request, ct))
            {
                if (chunk.Final is { } f)
                {
                    final = f;
                }
                else if (!string.IsNullOrEmpty(chunk.TextDelta))
                {
                    firstToken ??= watch.Elapsed.TotalMilliseconds;
                    text.Append(chunk.TextDelta);
                    writer.TryWrite(new PlaygroundUpdate(column, chunk.TextDelta, null));
                }
            }

            result = final is null
                ? Failed("The provider's stream ended without an answer.", null)
                : new PlaygroundResult(final.Text, final.Model, final.FinishReason, final.InputTokens, final.OutputTokens, final.Cost,
                    final.Latency.TotalMilliseconds, final.TimeToFirstToken?.TotalMilliseconds, started);
        }
        catch (LlmCallException e)
        {
            result = Failed(e.Message, e.Status);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            result = new PlaygroundResult(text.ToString(), request.Model, null, null, null, null, watch.Elapsed.TotalMilliseconds, firstToken, started, Cancelled: true);
        }

        writer.TryWrite(new PlaygroundUpdate(column, null, result));

        PlaygroundResult Failed(string message, int? status) =>
            new(text.ToString(), request.Model, null, null, null, null, watch.Elapsed.TotalMilliseconds, firstToken, started, message, status);
    }

    private static LlmChatRequest Request(PlaygroundConfig config, string? system, IReadOnlyList<LlmMessage> messages) =>
        new(config.Model.Trim(), system, messages, config.Temperature, config.MaxTokens, Source: ProviderCallSource.Playground);

    /// <summary>
    /// Checks a prompt and configurations as a run would, without calling anything and without filling the variables (a batch
    /// fills them per trace): invalid input and another team's connection are refused naming the field.
    /// </summary>
    public async Task CheckAsync(PlaygroundPrompt prompt, IReadOnlyList<PlaygroundConfig> configs, CancellationToken ct = default)
    {
        RequireUse();
        Check(prompt);
        await ResolveAsync(configs, ct);
    }

    /// <summary>Checks the prompt and fills its variables: the system prompt and messages as sent.</summary>
    private static (string? System, IReadOnlyList<LlmMessage> Messages) Prepare(PlaygroundPrompt prompt)
    {
        Check(prompt);
        var messages = prompt.Messages.Select(m => new LlmMessage(m.Role, PromptVariables.Fill(m.Content, prompt.Variables))).ToList();
        var system = string.IsNullOrWhiteSpace(prompt.System) ? null : PromptVariables.Fill(prompt.System, prompt.Variables);
        return (system, messages);
    }

    private static void Check(PlaygroundPrompt prompt)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        if (prompt.System is { Length: > MaxTextLength })
        {
            throw new DomainValidationException("system", $"At most {MaxTextLength} characters.");
        }

        if (prompt.Messages is null || prompt.Messages.Count == 0)
        {
            throw new DomainValidationException("messages", "Write at least one message.");
        }

        if (prompt.Messages.Count > MaxMessages)
        {
            throw new DomainValidationException("messages", $"At most {MaxMessages} messages.");
        }

        if (prompt.Variables is { } variables)
        {
            if (variables.Count > PromptVariables.MaxVariables)
            {
                throw new DomainValidationException("variables", $"At most {PromptVariables.MaxVariables} variables.");
            }

            foreach (var (name, value) in variables)
            {
                if (value is { Length: > PromptVariables.MaxValueLength })
                {
                    throw new DomainValidationException($"variables.{name}", $"At most {PromptVariables.MaxValueLength} characters.");
                }
            }
        }

        for (var i = 0; i < prompt.Messages.Count; i++)
        {
            var m = prompt.Messages[i];
            if (m.Role is not ("user" or "assistant"))
            {
                throw new DomainValidationException($"messages[{i}].role", "A message's role is 'user' or 'assistant'.");
            }

            if (string.IsNullOrWhiteSpace(m.Content))
            {
                throw new DomainValidationException($"messages[{i}].content", "A message needs content.");
            }

            if (m.Content.Length > MaxTextLength)
            {
                throw new DomainValidationException($"messages[{i}].content", $"At most {MaxTextLength} characters.");
            }
        }
    }

    /// <summary>Checks the configurations and finds each one's connection in the current team (another team's is not found).</summary>
    private async Task<ResolvedProvider[]> ResolveAsync(IReadOnlyList<PlaygroundConfig> configs, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(configs);
        if (configs.Count is 0 or > MaxConfigs)
        {
            throw new DomainValidationException("configs", $"Pick 1 to {MaxConfigs} model configurations.");
        }

        var providers = new ResolvedProvider[configs.Count];
        for (var i = 0; i < configs.Count; i++)
        {
            var c = configs[i];
            if (string.IsNullOrWhiteSpace(c.Model) || c.Model.Trim().Length > MaxModelLength)
            {
                throw new DomainValidationException($"configs[{i}].model", $"Name a model (at most {MaxModelLength} characters).");
            }

            if (c.Temperature is { } t && (double.IsNaN(t) || t < 0 || t > 2))
            {
                throw new DomainValidationException($"configs[{i}].temperature", "Between 0 and 2.");
            }

            if (c.MaxTokens is { } m && (m < 1 || m > MaxOutputTokens))
            {
                throw new DomainValidationException($"configs[{i}].max_tokens", $"Between 1 and {MaxOutputTokens}.");
            }

            providers[i] = await connections.FindAsync(c.ConnectionId, ct)
                ?? throw new DomainValidationException($"configs[{i}].connection_id", "No such connection in this team.");
        }

        return providers;
    }

    /// <summary>A column as the proxy would have seen the call: the request in its provider's wire shape, and the answer.</summary>
    private static ProxyExchange Exchange(ProviderConnection connection, PlaygroundSaveItem item, string? system, IReadOnlyList<LlmMessage> messages)
    {
        var config = item.Config;
        var result = item.Result;
        var anthropic = connection.Kind == ProviderKind.Anthropic;
        var wire = new JsonArray();
        if (!anthropic && system is not null)
        {
            wire.Add(new JsonObject { ["role"] = "system", ["content"] = system });
        }

        foreach (var m in messages)
        {
            wire.Add(new JsonObject { ["role"] = m.Role, ["content"] = m.Content });
        }

        var request = new JsonObject { ["model"] = config.Model.Trim() };
        if (anthropic && system is not null)
        {
            request["system"] = system;
        }

        request["messages"] = wire;
        if (config.Temperature is { } temperature)
        {
            request["temperature"] = temperature;
        }

        if (config.MaxTokens is { } maxTokens)
        {
            request["max_tokens"] = maxTokens;
        }

        var answer = new ProxyAnswer
        {
            Model = result.Model ?? config.Model,
            FinishReason = result.FinishReason,
            InputTokens = result.InputTokens,
            OutputTokens = result.OutputTokens,
            Completed = result.Succeeded,
            Error = result.Error,
        };
        answer.Text.Append(result.Text);
        return new ProxyExchange
        {
            Protocol = anthropic ? ProxyProtocol.AnthropicMessages : ProxyProtocol.OpenAiChat,
            Request = JsonSerializer.SerializeToElement(request),
            Caller = new ProxyCaller(TraceName: "playground"),
            Provider = ProviderKinds.Format(connection.Kind),
            Connection = connection.Name,
            StartedAt = result.StartedAt,
            LatencyMs = result.LatencyMs,
            TimeToFirstTokenMs = result.TimeToFirstTokenMs,
            Status = result.ErrorStatus ?? (result.Succeeded ? 200 : null),
            Streamed = true,
            Abandoned = result.Cancelled,
            Answer = answer,
            Error = result.Error,
        };
    }

    private void RequireUse()
    {
        if (!team.Can(Permission.UsePlayground) || team.TeamId is null)
        {
            throw new PermissionDeniedException("The playground needs the Reviewer, Admin or Owner role.");
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "A playground result was not stored as a trace: {Reasons}")]
    private static partial void LogNotStored(ILogger logger, string reasons);
}
