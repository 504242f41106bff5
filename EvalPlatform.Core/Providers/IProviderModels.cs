namespace EvalPlatform.Core.Providers;

/// <summary>The models a connection's provider lists (its models endpoint); also the "test connection" call.</summary>
public interface IProviderModels
{
    /// <summary>The model ids, sorted; an upstream refusal is an <see cref="LlmCallException"/> with the provider's message.</summary>
    Task<IReadOnlyList<string>> ListAsync(ResolvedProvider provider, CancellationToken ct);
}
