using EvalPlatform.Core.Providers;

namespace EvalPlatform.Core.Playground;

/// <summary>One message of a playground prompt: role <c>user</c> or <c>assistant</c>, content with <c>{{variables}}</c>.</summary>
public sealed record PlaygroundMessage(string Role, string Content);

/// <summary>
/// A prompt as written in the playground: an optional system prompt, the messages, and a value for every
/// <c>{{name}}</c> the texts use (<see cref="PromptVariables"/>).
/// </summary>
public sealed record PlaygroundPrompt(string? System, IReadOnlyList<PlaygroundMessage> Messages, IReadOnlyDictionary<string, string>? Variables = null);

/// <summary>One model configuration of a run: a connection of the team, a model, and the sampling parameters.</summary>
public sealed record PlaygroundConfig(Guid ConnectionId, string Model, double? Temperature = null, int? MaxTokens = null);

/// <summary>
/// What one configuration answered: the text (what arrived, when the call failed midway), usage, cost, latency and time to
/// first token, or the provider's error (with its status) shown in the configuration's column. A cancelled column keeps
/// what had arrived.
/// </summary>
public sealed record PlaygroundResult(
    string Text,
    string? Model,
    string? FinishReason,
    int? InputTokens,
    int? OutputTokens,
    decimal? Cost,
    double LatencyMs,
    double? TimeToFirstTokenMs,
    DateTimeOffset StartedAt,
    string? Error = null,
    int? ErrorStatus = null,
    bool Cancelled = false)
{
    public bool Succeeded => Error is null && !Cancelled;
}

/// <summary>A piece of a run as it happens: text for a column as it arrives, then the column's result once.</summary>
public sealed record PlaygroundUpdate(int Column, string? TextDelta, PlaygroundResult? Result);

/// <summary>A connection the playground may use (no key, no URL: the picker shows names).</summary>
public sealed record PlaygroundConnection(Guid Id, string Name, ProviderKind Kind);

/// <summary>A column to save as a trace: its configuration and its result.</summary>
public sealed record PlaygroundSaveItem(int Column, PlaygroundConfig Config, PlaygroundResult Result);
