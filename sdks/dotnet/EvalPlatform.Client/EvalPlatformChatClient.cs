using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace EvalPlatform.Client;

/// <summary>What the <see cref="EvalPlatformChatClient"/> adds to every trace it records.</summary>
public sealed class EvalPlatformChatClientOptions
{
    /// <summary>The traces' name (shown in the trace list), e.g. <c>support-chat</c>.</summary>
    public string? TraceName { get; set; }

    public string? Environment { get; set; }

    public string? Release { get; set; }

    public IList<string> Tags { get; } = [];

    /// <summary>
    /// Called with each trace before it is queued, with the call's messages and options: set the
    /// session, the user, metadata… An exception here is logged and the trace is still sent.
    /// </summary>
    public Action<EvalTrace, IReadOnlyList<ChatMessage>, ChatOptions?>? Enrich { get; set; }
}

/// <summary>
/// An <see cref="IChatClient"/> that records every call as a trace (messages in, response out, tool
/// calls and their results, model, provider, usage, latency, time to first token when streaming,
/// errors) and queues it on the batcher. It never changes a call's result, and never throws because
/// of telemetry: the inner client's exceptions reach the caller unchanged.
/// </summary>
public sealed class EvalPlatformChatClient : DelegatingChatClient
{
    private readonly IEvalPlatformBatcher _batcher;
    private readonly EvalPlatformChatClientOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private ChatClientMetadata? _metadata;
    private bool _metadataRead;

    public EvalPlatformChatClient(
        IChatClient innerClient, IEvalPlatformBatcher batcher, EvalPlatformChatClientOptions? options = null,
        TimeProvider? timeProvider = null, ILogger<EvalPlatformChatClient>? logger = null)
        : base(innerClient)
    {
        _batcher = batcher;
        _options = options ?? new EvalPlatformChatClientOptions();
        _time = timeProvider ?? TimeProvider.System;
        _logger = logger ?? (ILogger)NullLogger.Instance;
    }

    public override async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var input = Snapshot(ref messages);
        var startedAt = _time.GetUtcNow();
        var started = _time.GetTimestamp();
        ChatResponse response;
        try
        {
            response = await base.GetResponseAsync(messages, options, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            Record(input, options, null, startedAt, _time.GetElapsedTime(started), null, e, streaming: false);
            throw;
        }

        Record(input, options, response, startedAt, _time.GetElapsedTime(started), null, null, streaming: false);
        return response;
    }

    public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var input = Snapshot(ref messages);
        var startedAt = _time.GetUtcNow();
        var started = _time.GetTimestamp();
        var updates = new List<ChatResponseUpdate>();
        TimeSpan? firstToken = null;
        var recorded = false;
        IAsyncEnumerator<ChatResponseUpdate>? enumerator = null;
        try
        {
            try
            {
                enumerator = base.GetStreamingResponseAsync(messages, options, cancellationToken).GetAsyncEnumerator(cancellationToken);
            }
            catch (Exception e)
            {
                recorded = true;
                Record(input, options, null, startedAt, _time.GetElapsedTime(started), null, e, streaming: true);
                throw;
            }

            while (true)
            {
                ChatResponseUpdate update;
                try
                {
                    if (!await enumerator.MoveNextAsync().ConfigureAwait(false))
                    {
                        break;
                    }

                    update = enumerator.Current;
                }
                catch (Exception e)
                {
                    recorded = true;
                    Record(input, options, Combine(updates), startedAt, _time.GetElapsedTime(started), firstToken, e, streaming: true);
                    throw;
                }

                if (firstToken is null && update.Contents.Count > 0)
                {
                    firstToken = _time.GetElapsedTime(started);
                }

                updates.Add(update);
                yield return update;
            }

            recorded = true;
            Record(input, options, Combine(updates), startedAt, _time.GetElapsedTime(started), firstToken, null, streaming: true);
        }
        finally
        {
            if (!recorded)
            {
                // The caller stopped reading early: record what came so far.
                Record(input, options, Combine(updates), startedAt, _time.GetElapsedTime(started), firstToken,
                    new OperationCanceledException("The caller stopped reading the stream before its end."), streaming: true);
            }

            if (enumerator is not null)
            {
                await enumerator.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>The messages as a list for the trace; a one-shot sequence is materialized once and that list is what the inner client gets.</summary>
    private static List<ChatMessage> Snapshot(ref IEnumerable<ChatMessage> messages)
    {
        if (messages is ICollection<ChatMessage> or IReadOnlyCollection<ChatMessage>)
        {
            return messages.ToList();
        }

        var list = messages.ToList();
        messages = list;
        return list;
    }

    private static ChatResponse? Combine(List<ChatResponseUpdate> updates)
    {
        try
        {
            return updates.Count == 0 ? null : updates.ToChatResponse();
        }
#pragma warning disable CA1031 // An odd stream must not break the caller's call; the trace just has less.
        catch
#pragma warning restore CA1031
        {
            return null;
        }
    }

    private void Record(
        List<ChatMessage> input, ChatOptions? options, ChatResponse? response, DateTimeOffset startedAt, TimeSpan latency,
        TimeSpan? firstToken, Exception? error, bool streaming)
    {
        try
        {
            var trace = ChatTraceMapper.ToTrace(input, options, response, Metadata(), startedAt, latency, firstToken, error, streaming);
            trace.Name ??= _options.TraceName;
            trace.Environment ??= _options.Environment;
            trace.Release ??= _options.Release;
            if (_options.Tags.Count > 0)
            {
                trace.Tags = [.. _options.Tags];
            }

            if (_options.Enrich is { } enrich)
            {
                try
                {
                    enrich(trace, input, options);
                }
#pragma warning disable CA1031 // A faulty enricher costs the enrichment, not the trace or the call.
                catch (Exception e)
#pragma warning restore CA1031
                {
                    _logger.LogWarning(e, "EvalPlatform: the trace enricher failed; the trace is sent without it.");
                }
            }

            _batcher.Enqueue(trace);
        }
#pragma warning disable CA1031 // Telemetry must never throw into the app.
        catch (Exception e)
#pragma warning restore CA1031
        {
            try
            {
                _logger.LogWarning(e, "EvalPlatform: a chat call could not be recorded.");
            }
#pragma warning disable CA1031
            catch
#pragma warning restore CA1031
            {
            }
        }
    }

    private ChatClientMetadata? Metadata()
    {
        if (!_metadataRead)
        {
            _metadataRead = true;
            try
            {
                _metadata = InnerClient.GetService(typeof(ChatClientMetadata)) as ChatClientMetadata;
            }
#pragma warning disable CA1031 // A client that cannot describe itself still gets traced.
            catch
#pragma warning restore CA1031
            {
                _metadata = null;
            }
        }

        return _metadata;
    }
}

/// <summary>Wrapping a chat client so every call is traced.</summary>
public static class EvalPlatformChatClientExtensions
{
    /// <summary>Records every call of <paramref name="client"/> as a trace queued on <paramref name="batcher"/>.</summary>
    public static IChatClient WithEvalPlatform(this IChatClient client, IEvalPlatformBatcher batcher, Action<EvalPlatformChatClientOptions>? configure = null)
    {
        var options = new EvalPlatformChatClientOptions();
        configure?.Invoke(options);
        return new EvalPlatformChatClient(client, batcher, options);
    }

    /// <summary>
    /// The same, with the batcher, clock and logger from <paramref name="services"/> (registered by
    /// <c>AddEvalPlatform</c>). With a <c>ChatClientBuilder</c>: <c>.Use((inner, sp) => inner.WithEvalPlatform(sp))</c>.
    /// </summary>
    public static IChatClient WithEvalPlatform(this IChatClient client, IServiceProvider services, Action<EvalPlatformChatClientOptions>? configure = null)
    {
        var batcher = services.GetService(typeof(IEvalPlatformBatcher)) as IEvalPlatformBatcher
            ?? throw new InvalidOperationException("No IEvalPlatformBatcher is registered: call services.AddEvalPlatform(...) first.");
        var options = new EvalPlatformChatClientOptions();
        configure?.Invoke(options);
        return new EvalPlatformChatClient(
            client, batcher, options, services.GetService(typeof(TimeProvider)) as TimeProvider,
            services.GetService(typeof(ILogger<EvalPlatformChatClient>)) as ILogger<EvalPlatformChatClient>);
    }
}
