using System.Diagnostics;
using System.Runtime.CompilerServices;
using EvalPlatform.Core.Providers;
using EvalPlatform.Core.Traces;
using Microsoft.Extensions.Options;

namespace EvalPlatform.Web.Providers;

/// <summary>
/// The platform's own calls to a model (<see cref="ILlmChat"/>): picks the SDK for the connection's kind, bounds the call
/// by <c>Providers:TimeoutSeconds</c>, measures latency and time to first token, prices it with the team's prices
/// (<see cref="ModelPrices"/>, the one cost formula) and records every call, answered, refused or abandoned, with
/// <see cref="IProviderUsage"/>. Every failure reaches the caller as an <see cref="LlmCallException"/>, except the
/// caller's own cancellation.
/// </summary>
internal sealed class LlmChat(
    OpenAiBackend openAi, AnthropicBackend anthropic, IProviderUsage usage, ProviderPrices prices,
    IOptionsMonitor<ProviderOptions> options, ILogger<LlmChat> logger) : ILlmChat
{
    public async Task<LlmChatResult> CompleteAsync(ResolvedProvider provider, LlmChatRequest request, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(provider);
        ArgumentNullException.ThrowIfNull(request);
        using var timeout = Timeout(ct);
        var started = Stopwatch.GetTimestamp();
        try
        {
            var answer = await Backend(provider).CompleteAsync(provider, request, timeout.Token);
            var result = await ResultAsync(answer, Stopwatch.GetElapsedTime(started), null);
            await RecordAsync(provider, request, result.Model, result, 200, null);
            return result;
        }
        catch (Exception e) when (Failure(e, ct) is { } failure)
        {
            await RecordAsync(provider, request, request.Model, null, failure.Status, Stopwatch.GetElapsedTime(started));
            throw failure;
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            await RecordAsync(provider, request, request.Model, null, null, Stopwatch.GetElapsedTime(started));
            throw;
        }
    }

    public async IAsyncEnumerable<LlmChatChunk> StreamAsync(ResolvedProvider provider, LlmChatRequest request, [EnumeratorCancellation] CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(provider);
        ArgumentNullException.ThrowIfNull(request);
        using var timeout = Timeout(ct);
        var started = Stopwatch.GetTimestamp();
        TimeSpan? firstToken = null;
        var recorded = false;
        var pieces = Backend(provider).StreamAsync(provider, request, timeout.Token).GetAsyncEnumerator(timeout.Token);
        try
        {
            while (true)
            {
                BackendPiece piece;
                try
                {
                    if (!await pieces.MoveNextAsync())
                    {
                        break;
                    }

                    piece = pieces.Current;
                }
                catch (Exception e) when (Failure(e, ct) is { } failure)
                {
                    recorded = true;
                    await RecordAsync(provider, request, request.Model, null, failure.Status, Stopwatch.GetElapsedTime(started), firstToken);
                    throw failure;
                }

                if (piece.Final is { } answer)
                {
                    var result = await ResultAsync(answer, Stopwatch.GetElapsedTime(started), firstToken);
                    recorded = true;
                    await RecordAsync(provider, request, result.Model, result, 200, null);
                    yield return new LlmChatChunk(null, result);
                    yield break;
                }

                firstToken ??= Stopwatch.GetElapsedTime(started);
                yield return new LlmChatChunk(piece.TextDelta, null);
            }
        }
        finally
        {
            // A caller that stops reading (or is cancelled) still leaves its call on record, once.
            if (!recorded)
            {
                await RecordAsync(provider, request, request.Model, null, null, Stopwatch.GetElapsedTime(started), firstToken);
            }

            await pieces.DisposeAsync();
        }
    }

    private IChatBackend Backend(ResolvedProvider provider) => provider.Kind == ProviderKind.Anthropic ? anthropic : openAi;

    private CancellationTokenSource Timeout(CancellationToken ct)
    {
        var source = CancellationTokenSource.CreateLinkedTokenSource(ct);
        source.CancelAfter(TimeSpan.FromSeconds(options.CurrentValue.TimeoutSeconds));
        return source;
    }

    /// <summary>The failure as the caller sees it; null for the caller's own cancellation (which stays a cancellation).</summary>
    private LlmCallException? Failure(Exception e, CancellationToken callerToken) => e switch
    {
        LlmCallException refused => refused,
        OperationCanceledException when callerToken.IsCancellationRequested => null,
        OperationCanceledException => new LlmCallException(null, $"The provider did not answer within {options.CurrentValue.TimeoutSeconds} seconds.", null, e),
        HttpRequestException or IOException => new LlmCallException(null, $"The provider could not be reached: {e.Message}", null, e),
        System.Text.Json.JsonException => new LlmCallException(null, $"The provider's answer could not be read: {e.Message}", null, e),
        _ => null,
    };

    private async Task<LlmChatResult> ResultAsync(BackendAnswer answer, TimeSpan latency, TimeSpan? firstToken)
    {
        var cost = ModelPrices.Compute(answer.Model, answer.InputTokens, answer.OutputTokens, await prices.CurrentTeamAsync(CancellationToken.None));
        return new LlmChatResult(answer.Model, answer.Text, answer.FinishReason, answer.InputTokens, answer.OutputTokens, cost, latency, firstToken);
    }

    private async Task RecordAsync(ResolvedProvider provider, LlmChatRequest request, string model, LlmChatResult? result, int? status, TimeSpan? failedAfter, TimeSpan? firstToken = null)
    {
        var call = new ProviderCall
        {
            ConnectionId = provider.ConnectionId,
            Source = request.Source,
            Model = model,
            InputTokens = result?.InputTokens,
            OutputTokens = result?.OutputTokens,
            Cost = result?.Cost,
            LatencyMs = (result?.Latency ?? failedAfter ?? TimeSpan.Zero).TotalMilliseconds,
            TimeToFirstTokenMs = (result?.TimeToFirstToken ?? firstToken)?.TotalMilliseconds,
            Status = status,
            IsError = result is null,
        };
        try
        {
            // Not the caller's token: a call the caller abandoned is still counted.
            await usage.RecordAsync(call, CancellationToken.None);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // The answer is worth more to the caller than its usage row; the failure is logged, not hidden.
            logger.LogError(e, "Could not record a provider call on connection {ConnectionId}", provider.ConnectionId);
        }
    }
}

/// <summary>Model discovery over the same SDKs and HttpClient as the chat calls.</summary>
internal sealed class ProviderModels(OpenAiBackend openAi, AnthropicBackend anthropic, IOptionsMonitor<ProviderOptions> options) : IProviderModels
{
    public async Task<IReadOnlyList<string>> ListAsync(ResolvedProvider provider, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(provider);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(Math.Min(30, options.CurrentValue.TimeoutSeconds)));
        try
        {
            IChatBackend backend = provider.Kind == ProviderKind.Anthropic ? anthropic : openAi;
            return await backend.ListModelsAsync(provider, timeout.Token);
        }
        catch (OperationCanceledException e) when (!ct.IsCancellationRequested)
        {
            throw new LlmCallException(null, "The provider did not answer within 30 seconds.", null, e);
        }
        catch (Exception e) when (e is HttpRequestException or IOException)
        {
            throw new LlmCallException(null, $"The provider could not be reached: {e.Message}", null, e);
        }
    }
}
