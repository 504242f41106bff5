using System.Globalization;
using EvalPlatform.Core.Reviews;
using EvalPlatform.Core.Traces;
using Microsoft.AspNetCore.WebUtilities;

namespace EvalPlatform.Web.Traces;

/// <summary>
/// The trace list's filters in the page URL (the same names as the API's query parameters), so a
/// filtered view can be shared, survives a reload, and travels to the trace view for Previous/Next.
/// </summary>
public static class TraceFilterQuery
{
    public static TraceFilter Parse(string uri)
    {
        var query = QueryHelpers.ParseQuery(new Uri(uri).Query);
        string? Get(string name) => query.TryGetValue(name, out var v) && !string.IsNullOrWhiteSpace(v.ToString()) ? v.ToString() : null;
        return new TraceFilter(
            Time(Get("from")), Time(Get("to")), Status(Get("status")), Get("model"), Get("provider"), Get("tag"), Get("environment"),
            Get("session_id"), Get("user_id"), Get("experiment"), Get("variant"), Get("search"), Get("reason"), Get("reviewer"),
            Score(Get("score")), Score(Get("score_min")), Score(Get("score_max")));
    }

    /// <summary>The trace view's tab in an address, if any.</summary>
    /// <summary>The saved view a link names (<c>/traces?view=&lt;id&gt;</c>, as the command palette opens one), if any.</summary>
    public static Guid? ParseView(string uri) =>
        QueryHelpers.ParseQuery(new Uri(uri).Query).TryGetValue("view", out var view) && Guid.TryParse(view.ToString(), out var id) ? id : null;

    public static string? ParseTab(string uri) =>
        QueryHelpers.ParseQuery(new Uri(uri).Query).TryGetValue("tab", out var tab) && tab.Count > 0 ? tab.ToString() : null;

    /// <summary>The filter as a query string ("" or "?a=b&amp;…"), optionally with extra parameters.</summary>
    public static string ToQuery(TraceFilter f, params (string Name, string? Value)[] extra)
    {
        var pairs = new (string Name, string? Value)[]
        {
            ("from", f.From?.ToString("O", CultureInfo.InvariantCulture)), ("to", f.To?.ToString("O", CultureInfo.InvariantCulture)),
            ("status", f.Status is { } s ? Endpoints.TraceEndpoints.Wire(s) : null), ("model", f.Model), ("provider", f.Provider), ("tag", f.Tag),
            ("environment", f.Environment), ("session_id", f.SessionId), ("user_id", f.UserId), ("experiment", f.Experiment),
            ("variant", f.Variant), ("search", f.Search), ("reason", f.Reason), ("reviewer", f.Reviewer), ("score", Text(f.Score)),
            ("score_min", Text(f.ScoreMin)), ("score_max", Text(f.ScoreMax)),
        }.Concat(extra).Where(p => !string.IsNullOrEmpty(p.Value)).ToList();
        return pairs.Count == 0 ? "" : "?" + string.Join("&", pairs.Select(p => $"{p.Name}={Uri.EscapeDataString(p.Value!)}"));
    }

    public static bool IsEmpty(TraceFilter f) => ToQuery(f).Length == 0;

    private static DateTimeOffset? Time(string? value) =>
        DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t) ? t.ToUniversalTime() : null;

    private static double? Score(string? value) => ReviewScores.TryParse(value, out var score) ? score : null;

    private static string? Text(double? score) => score?.ToString("R", CultureInfo.InvariantCulture);

    private static ReviewStatus? Status(string? value) =>
        Enum.GetValues<ReviewStatus>().Where(s => string.Equals(Endpoints.TraceEndpoints.Wire(s), value, StringComparison.OrdinalIgnoreCase))
            .Select(s => (ReviewStatus?)s).FirstOrDefault();
}
