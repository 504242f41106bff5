using System.Text.Json;
using EvalPlatform.Core.Tenancy;

namespace EvalPlatform.Core.Providers;

// The shared surface of issue 17 (LLM providers): connections, the platform's own calls to a model, and the usage
// every call leaves. The recording proxy, the playground and the LLM judges build on these types; the provider
// connections feature implements the interfaces.

/// <summary>What kind of upstream a connection talks to. Wire names: openai, anthropic, openai_compatible.</summary>
public enum ProviderKind
{
    OpenAi = 0,
    Anthropic = 1,

    /// <summary>Any server that speaks OpenAI's API at a base URL (Azure OpenAI, vLLM, Ollama).</summary>
    OpenAiCompatible = 2,
}

/// <summary>A team's account at a model provider. The API key is stored encrypted with Data Protection only.</summary>
public sealed class ProviderConnection : ITeamOwned
{
    public Guid Id { get; set; }
    public Guid TeamId { get; set; }
    public ProviderKind Kind { get; set; }
    public required string Name { get; set; }

    /// <summary>As each SDK takes it: OpenAI's ends in <c>/v1</c>, Anthropic's does not.</summary>
    public required string BaseUrl { get; set; }

    /// <summary>The API key, protected for this team; never returned by any API after creation.</summary>
    public required string ProtectedApiKey { get; set; }

    /// <summary>The key's last four characters, to tell keys apart in lists.</summary>
    public required string KeyHint { get; set; }

    public DateTimeOffset CreatedAt { get; set; }
    public string? CreatedBy { get; set; }
}

/// <summary>A connection ready to call: the decrypted key, for the current request only.</summary>
public sealed record ResolvedProvider(Guid ConnectionId, ProviderKind Kind, string Name, Uri BaseUrl, string ApiKey);

/// <summary>The current team's connections, decrypted for a call.</summary>
public interface IProviderConnections
{
    /// <summary>
    /// The connection a call of <paramref name="kind"/> uses: the one named <paramref name="name"/> when given, else
    /// the team's first (oldest) of that kind. An OpenAI-shaped call matches <see cref="ProviderKind.OpenAi"/> and
    /// <see cref="ProviderKind.OpenAiCompatible"/>. Null when the team has none.
    /// </summary>
    Task<ResolvedProvider?> ResolveAsync(ProviderKind kind, string? name, CancellationToken ct);

    /// <summary>The connection by id in the current team, or null.</summary>
    Task<ResolvedProvider?> FindAsync(Guid connectionId, CancellationToken ct);
}

/// <summary>One chat message of the platform's own calls (playground, judges): role system, user or assistant.</summary>
public sealed record LlmMessage(string Role, string Content);

/// <summary>
/// A chat call the platform makes itself, the same for every provider kind. Parameters are other provider parameters
/// passed as given (top_p, stop, …); JsonResponse asks for a JSON object (OpenAI's response_format; for Anthropic an
/// instruction). Source says which feature makes the call, for its <see cref="ProviderCall"/> row.
/// </summary>
public sealed record LlmChatRequest(
    string Model,
    string? System,
    IReadOnlyList<LlmMessage> Messages,
    double? Temperature = null,
    int? MaxTokens = null,
    IReadOnlyDictionary<string, JsonElement>? Parameters = null,
    bool JsonResponse = false,
    ProviderCallSource Source = ProviderCallSource.Playground);

/// <summary>The whole answer of a call.</summary>
public sealed record LlmChatResult(
    string Model,
    string Text,
    string? FinishReason,
    int? InputTokens,
    int? OutputTokens,
    decimal? Cost,
    TimeSpan Latency,
    TimeSpan? TimeToFirstToken);

/// <summary>A piece of a streamed answer: text as it arrives, then one last chunk with the whole result.</summary>
public sealed record LlmChatChunk(string? TextDelta, LlmChatResult? Final);

/// <summary>An upstream's refusal, with what the provider said.</summary>
public sealed class LlmCallException(int? status, string message, TimeSpan? retryAfter = null, Exception? inner = null)
    : Exception(message, inner)
{
    public int? Status { get; } = status;
    public TimeSpan? RetryAfter { get; } = retryAfter;
}

/// <summary>
/// The platform's own calls to a model (Betalgo.Ranul.OpenAI for OpenAI and compatible servers, the Anthropic package
/// for Anthropic), through the SSRF guard. Every call, answered or failed, is recorded with <see cref="IProviderUsage"/>.
/// </summary>
public interface ILlmChat
{
    Task<LlmChatResult> CompleteAsync(ResolvedProvider provider, LlmChatRequest request, CancellationToken ct);

    IAsyncEnumerable<LlmChatChunk> StreamAsync(ResolvedProvider provider, LlmChatRequest request, CancellationToken ct);
}

/// <summary>Which feature made a call.</summary>
public enum ProviderCallSource
{
    Proxy = 0,
    Playground = 1,
    Evaluator = 2,
    ConnectionTest = 3,
}

/// <summary>One call made with a connection: the figures of the connection's page over time and of budgets.</summary>
public sealed class ProviderCall : ITeamOwned
{
    public Guid Id { get; set; }
    public Guid TeamId { get; set; }
    public Guid ConnectionId { get; set; }
    public ProviderCallSource Source { get; set; }
    public DateTimeOffset At { get; set; }
    public string? Model { get; set; }
    public int? InputTokens { get; set; }
    public int? OutputTokens { get; set; }
    public decimal? Cost { get; set; }
    public double LatencyMs { get; set; }
    public double? TimeToFirstTokenMs { get; set; }

    /// <summary>The upstream's HTTP status; null when no answer came (network error, abandoned).</summary>
    public int? Status { get; set; }

    public bool IsError { get; set; }

    /// <summary>The trace the call was recorded as, when it was.</summary>
    public Guid? TraceId { get; set; }

    /// <summary>The API key that made it (proxy calls).</summary>
    public Guid? ApiKeyId { get; set; }

    /// <summary>The caller's end user (<c>X-EvalPlatform-User</c>).</summary>
    public string? EndUser { get; set; }
}

/// <summary>Records calls for the current team.</summary>
public interface IProviderUsage
{
    Task RecordAsync(ProviderCall record, CancellationToken ct);

    /// <summary>Several calls of the current team in one unit of work (the proxy's background recording).</summary>
    Task RecordAsync(IReadOnlyList<ProviderCall> records, CancellationToken ct);
}
