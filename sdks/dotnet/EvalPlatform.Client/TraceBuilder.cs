namespace EvalPlatform.Client;

/// <summary>
/// Builds an <see cref="EvalTrace"/> of the simple shape fluently. The external id is a new UUID
/// unless you set one, so retries of the batch that carries it are idempotent.
/// </summary>
/// <example>
/// <code>
/// var trace = new TraceBuilder()
///     .WithName("support-chat").WithSystemPrompt(system).WithUserInput(question)
///     .WithResponse(answer).WithModel("gpt-4o-mini", "openai").WithUsage(812, 64)
///     .WithLatency(TimeSpan.FromMilliseconds(930)).WithSession(sessionId).WithTags("support")
///     .Build();
/// batcher.Enqueue(trace);
/// </code>
/// </example>
public sealed class TraceBuilder
{
    private readonly EvalTrace _trace = new();
    private readonly TimeProvider _time;
    private long? _startedTimestamp;

    /// <param name="timeProvider">The clock for <see cref="Start"/>, <see cref="End"/> and <see cref="RecordFunctionCallAsync{T}"/>; the system clock by default.</param>
    public TraceBuilder(TimeProvider? timeProvider = null) => _time = timeProvider ?? TimeProvider.System;

    public TraceBuilder WithExternalId(string externalId)
    {
        _trace.ExternalId = externalId;
        return this;
    }

    public TraceBuilder WithName(string name)
    {
        _trace.Name = name;
        return this;
    }

    public TraceBuilder WithSystemPrompt(string? systemPrompt)
    {
        _trace.SystemPrompt = systemPrompt;
        return this;
    }

    public TraceBuilder WithUserInput(string? userInput)
    {
        _trace.UserInput = userInput;
        return this;
    }

    public TraceBuilder WithResponse(string? response)
    {
        _trace.Response = response;
        return this;
    }

    /// <summary>A tool call that already happened; <paramref name="parameters"/> and <paramref name="result"/> are any JSON-serializable values.</summary>
    public TraceBuilder AddFunctionCall(string name, object? parameters = null, object? result = null, TimeSpan? executionTime = null, string? error = null)
    {
        (_trace.FunctionCalls ??= []).Add(new EvalFunctionCall
        {
            Name = name,
            Parameters = parameters,
            Result = result,
            ExecutionTimeMs = executionTime?.TotalMilliseconds,
            Error = error,
        });
        return this;
    }

    /// <summary>
    /// Runs <paramref name="call"/>, timing it, and records it as a function call with its result
    /// or its exception's message. The exception is rethrown unchanged.
    /// </summary>
    public async Task<T> RecordFunctionCallAsync<T>(string name, object? parameters, Func<CancellationToken, Task<T>> call, CancellationToken cancellationToken = default)
    {
        var started = _time.GetTimestamp();
        try
        {
            var result = await call(cancellationToken).ConfigureAwait(false);
            AddFunctionCall(name, parameters, result, _time.GetElapsedTime(started));
            return result;
        }
        catch (Exception e)
        {
            AddFunctionCall(name, parameters, null, _time.GetElapsedTime(started), $"{e.GetType().Name}: {e.Message}");
            throw;
        }
    }

    /// <summary>The model, and optionally who serves it (<c>openai</c>, <c>anthropic</c>, …).</summary>
    public TraceBuilder WithModel(string model, string? provider = null)
    {
        _trace.Model = model;
        if (provider is not null)
        {
            _trace.Provider = provider;
        }

        return this;
    }

    public TraceBuilder WithProvider(string provider)
    {
        _trace.Provider = provider;
        return this;
    }

    public TraceBuilder WithUsage(int promptTokens, int completionTokens, int? totalTokens = null)
    {
        _trace.Usage = new EvalUsage(promptTokens, completionTokens, totalTokens);
        return this;
    }

    /// <summary>The call's cost in US dollars (otherwise the platform computes it for models it knows).</summary>
    public TraceBuilder WithCost(decimal cost)
    {
        _trace.Cost = cost;
        return this;
    }

    public TraceBuilder WithLatency(TimeSpan latency)
    {
        _trace.LatencyMs = latency.TotalMilliseconds;
        return this;
    }

    public TraceBuilder WithTimeToFirstToken(TimeSpan timeToFirstToken)
    {
        _trace.TimeToFirstTokenMs = timeToFirstToken.TotalMilliseconds;
        return this;
    }

    public TraceBuilder WithTimes(DateTimeOffset start, DateTimeOffset? end = null)
    {
        _trace.StartTime = start;
        _trace.EndTime = end;
        return this;
    }

    /// <summary>Marks now as the start; <see cref="End"/> then sets the end time and the latency.</summary>
    public TraceBuilder Start()
    {
        _trace.StartTime = _time.GetUtcNow();
        _startedTimestamp = _time.GetTimestamp();
        return this;
    }

    /// <summary>Marks now as the end, with the latency since <see cref="Start"/> (if it was called).</summary>
    public TraceBuilder End()
    {
        _trace.EndTime = _time.GetUtcNow();
        if (_startedTimestamp is { } started)
        {
            _trace.LatencyMs = _time.GetElapsedTime(started).TotalMilliseconds;
        }

        return this;
    }

    /// <summary>Adds tags (at most 50 of 100 characters each).</summary>
    public TraceBuilder WithTags(params IEnumerable<string> tags)
    {
        var list = _trace.Tags ??= [];
        foreach (var tag in tags)
        {
            if (!list.Contains(tag))
            {
                list.Add(tag);
            }
        }

        return this;
    }

    public TraceBuilder WithSession(string sessionId)
    {
        _trace.SessionId = sessionId;
        return this;
    }

    public TraceBuilder WithUser(string userId)
    {
        _trace.UserId = userId;
        return this;
    }

    public TraceBuilder WithEnvironment(string environment, string? release = null)
    {
        _trace.Environment = environment;
        if (release is not null)
        {
            _trace.Release = release;
        }

        return this;
    }

    public TraceBuilder WithExperiment(string experiment, string? variant = null)
    {
        _trace.Experiment = experiment;
        _trace.Variant = variant;
        return this;
    }

    /// <summary>Carries an assignment's experiment and variant; a unit not in the experiment leaves the trace out of it.</summary>
    public TraceBuilder WithAssignment(ExperimentAssignment assignment)
    {
        ArgumentNullException.ThrowIfNull(assignment);
        return assignment is { InExperiment: true, Variant: { } variant } ? WithExperiment(assignment.Experiment, variant) : this;
    }

    /// <summary>Adds one entry to the trace's free metadata (any JSON-serializable value).</summary>
    public TraceBuilder WithMetadata(string key, object? value)
    {
        (_trace.Metadata ??= new Dictionary<string, object?>(StringComparer.Ordinal))[key] = value;
        return this;
    }

    public TraceBuilder WithError(string error)
    {
        _trace.Error = error;
        return this;
    }

    /// <summary>Records the exception's type and message as the trace's error.</summary>
    public TraceBuilder WithError(Exception exception)
    {
        _trace.Error = $"{exception.GetType().Name}: {exception.Message}";
        return this;
    }

    /// <summary>The trace (the same instance each time).</summary>
    public EvalTrace Build() => _trace;
}
