using EvalPlatform.Core.Common;

namespace EvalPlatform.Core.Traces.Views;

/// <summary>
/// The trace list's columns: their keys (stored in layouts and views, sent by the API), labels and the default set. Status is
/// always shown (a reviewer's first question about a row), so a set without it gets it back after the time.
/// </summary>
public static class TraceListColumns
{
    public const string Time = "time";
    public const string Status = "status";

    /// <summary>Every column, in the default order, with its label.</summary>
    public static readonly IReadOnlyList<(string Key, string Label)> All =
    [
        (Time, "Time"), (Status, "Status"), ("name", "Name"), ("model", "Model"), ("input", "Input"), ("response", "Response"),
        ("latency", "Latency"), ("tokens", "Tokens"), ("cost", "Cost"), ("tags", "Tags"), ("environment", "Environment"),
        ("user", "User"), ("session", "Session"), ("score", "Score"),
    ];

    /// <summary>What a reader sees before choosing: fits 1152 px (the content width at 1440 px) with the previews truncated.</summary>
    public static readonly IReadOnlyList<string> Default = [Time, Status, "name", "model", "input", "response", "latency", "cost", "tags"];

    public const int MaxColumnsText = 400;

    public static string Label(string key) => All.FirstOrDefault(c => c.Key == key).Label ?? key;

    /// <summary>
    /// The keys as stored: known ones only (else a 400 naming <paramref name="field"/>), each once, in the given order, with status.
    /// </summary>
    public static IReadOnlyList<string> Normalize(IEnumerable<string?> keys, string field = "columns")
    {
        var result = new List<string>();
        foreach (var raw in keys)
        {
            var key = raw?.Trim().ToLowerInvariant();
            if (string.IsNullOrEmpty(key) || All.All(c => c.Key != key))
            {
                throw new DomainValidationException(field, $"Unknown column '{raw}'. One of: {string.Join(", ", All.Select(c => c.Key))}.");
            }

            if (!result.Contains(key))
            {
                result.Add(key);
            }
        }

        if (!result.Contains(Status))
        {
            result.Insert(result.Count > 0 && result[0] == Time ? 1 : 0, Status);
        }

        return result;
    }

    public static string Write(IReadOnlyList<string> keys) => string.Join(',', keys);

    /// <summary>Stored keys back (a key no longer known is dropped, so an old row never breaks the page).</summary>
    public static IReadOnlyList<string> Read(string? stored) =>
        string.IsNullOrWhiteSpace(stored) ? Default
            : Normalize(stored.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Where(k => All.Any(c => c.Key == k)));
}
