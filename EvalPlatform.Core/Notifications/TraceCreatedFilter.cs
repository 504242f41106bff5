using System.Text.Json;
using System.Text.Json.Nodes;
using EvalPlatform.Core.Common;
using EvalPlatform.Core.Traces;

namespace EvalPlatform.Core.Notifications;

/// <summary>
/// Which new traces a <c>trace.created</c> channel wants: the trace list's filters that a trace has when it is created
/// (named as the list's query parameters; every one given must match, exactly as the list matches it), plus <c>error</c>
/// (true: only failed traces, false: only the others). Review filters (status, reason, reviewer, score) are left out: a
/// new trace has no review.
/// </summary>
public sealed record TraceCreatedFilter(
    string? Model = null, string? Provider = null, string? Environment = null, string? Tag = null, string? UserId = null,
    string? SessionId = null, string? Experiment = null, string? Variant = null, bool? Error = null)
{
    public const int MaxValueLength = 200;

    /// <summary>The names the API and the stored JSON use.</summary>
    public static readonly IReadOnlyList<string> Names = ["model", "provider", "environment", "tag", "user_id", "session_id", "experiment", "variant", "error"];

    public bool IsEmpty => this == new TraceCreatedFilter();

    public bool Matches(Trace trace)
    {
        ArgumentNullException.ThrowIfNull(trace);
        return (Model is null || trace.Model == Model)
            && (Provider is null || trace.Provider == Provider)
            && (Environment is null || trace.Environment == Environment)
            && (Tag is null || trace.Tags.Contains(Tag))
            && (UserId is null || trace.UserId == UserId)
            && (SessionId is null || trace.SessionId == SessionId)
            && (Experiment is null || trace.Experiment == Experiment)
            && (Variant is null || trace.Variant == Variant)
            && (Error is null || Error == trace.Error is not null);
    }

    /// <summary>The API's <c>filters</c> object: unknown names and unreadable values are 400s naming <c>filters.{name}</c>.</summary>
    public static TraceCreatedFilter? Read(IReadOnlyDictionary<string, JsonElement>? filters)
    {
        if (filters is null || filters.Count == 0)
        {
            return null;
        }

        string? Text(string name)
        {
            if (!filters.TryGetValue(name, out var value) || value.ValueKind == JsonValueKind.Null)
            {
                return null;
            }

            var text = value.ValueKind == JsonValueKind.String ? value.GetString()!.Trim() : throw new DomainValidationException($"filters.{name}", "Must be a string.");
            return text.Length switch
            {
                0 => throw new DomainValidationException($"filters.{name}", "Must not be empty; leave it out to match every trace."),
                > MaxValueLength => throw new DomainValidationException($"filters.{name}", $"At most {MaxValueLength} characters."),
                _ => text,
            };
        }

        if (filters.Keys.FirstOrDefault(k => !Names.Contains(k)) is { } unknown)
        {
            throw new DomainValidationException($"filters.{unknown}", $"Not a filter of trace.created; use {string.Join(", ", Names)}.");
        }

        bool? error = null;
        if (filters.TryGetValue("error", out var e) && e.ValueKind != JsonValueKind.Null)
        {
            error = e.ValueKind switch
            {
                JsonValueKind.True => true,
                JsonValueKind.False => false,
                _ => throw new DomainValidationException("filters.error", "Must be true (only failed traces) or false (only the others)."),
            };
        }

        var filter = new TraceCreatedFilter(
            Text("model"), Text("provider"), Text("environment"), Text("tag"), Text("user_id"), Text("session_id"), Text("experiment"), Text("variant"), error);
        return filter.IsEmpty ? null : filter;
    }

    /// <summary>As stored on the channel and answered by the API: only the names that are set.</summary>
    public JsonObject ToJson()
    {
        var o = new JsonObject();
        void Put(string name, string? value)
        {
            if (value is not null)
            {
                o[name] = value;
            }
        }

        Put("model", Model);
        Put("provider", Provider);
        Put("environment", Environment);
        Put("tag", Tag);
        Put("user_id", UserId);
        Put("session_id", SessionId);
        Put("experiment", Experiment);
        Put("variant", Variant);
        if (Error is { } error)
        {
            o["error"] = error;
        }

        return o;
    }

    /// <summary>The stored form back; throws on a value that does not read (the ingestion path then skips that channel's team, logged).</summary>
    public static TraceCreatedFilter? Parse(string? stored)
    {
        if (string.IsNullOrEmpty(stored))
        {
            return null;
        }

        var values = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(stored)
            ?? throw new JsonException("A stored trace.created filter is null.");
        return Read(values);
    }
}
