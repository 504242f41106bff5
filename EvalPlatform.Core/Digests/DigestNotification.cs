using System.Globalization;
using System.Text.Json.Nodes;
using EvalPlatform.Core.Notifications;

namespace EvalPlatform.Core.Digests;

/// <summary>
/// A <see cref="DailyDigest"/> as a <c>digest.daily</c> notification: a plain-text title and text (in-app, e-mail, Slack's
/// fallback), a link to the dashboard for that day, and the figures as snake_case data (the webhook payload, and what
/// the Slack message is drawn from). Also the phrases the settings page's preview shows, so both read alike.
/// </summary>
public static class DigestNotification
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    public static NotificationEvent ToEvent(Guid teamId, DailyDigest digest)
    {
        ArgumentNullException.ThrowIfNull(digest);
        return new NotificationEvent(teamId, NotificationEventTypes.DailyDigest, Title(digest), Text(digest), DashboardLink(digest), Data(digest));
    }

    /// <summary>"Daily digest for Sun 6 Dec 2026".</summary>
    public static string Title(DailyDigest digest)
    {
        ArgumentNullException.ThrowIfNull(digest);
        return $"Daily digest for {Day(digest.Date)}";
    }

    /// <summary>Two or three plain sentences: the figures with their changes, then reasons, alerts and queues in brief.</summary>
    public static string Text(DailyDigest digest)
    {
        ArgumentNullException.ThrowIfNull(digest);
        if (digest.IsEmpty)
        {
            var before = digest.Volume.Previous is { } p && p > 0 ? $" (the day before: {Count(p)})" : "";
            return $"No traces on {Day(digest.Date)}{before}." + Tail(digest);
        }

        var parts = new List<string>
        {
            $"{Count(digest.Volume.Value)} traces ({VolumeChange(digest.Volume)})",
            $"error rate {Percent(digest.ErrorRate.Value)} ({PointsChange(digest.ErrorRate)})",
            digest.AcceptanceRate.Value is null
                ? "no review decisions"
                : $"acceptance rate {Percent(digest.AcceptanceRate.Value)} ({PointsChange(digest.AcceptanceRate)})",
        };
        var text = string.Join(", ", parts) + ".";
        if (digest.Reasons.Count > 0)
        {
            text += " Top rejection reasons: " + string.Join(", ", digest.Reasons.Select(r => $"{r.Label} ({Count(r.Count)})")) + ".";
        }

        return text + Tail(digest);
    }

    private static string Tail(DailyDigest digest)
    {
        var text = "";
        var fired = digest.Alerts.Sum(a => a.Count);
        text += fired == 0 ? " No alerts fired." : $" {Plural(fired, "alert")} fired ({string.Join(", ", digest.Alerts.Select(a => $"{a.RuleName} ×{a.Count}"))}).";
        var open = digest.Queues.Where(q => q.Done < q.Total).ToList();
        if (open.Count > 0)
        {
            text += $" {Plural(open.Count, "review queue")} open: " + string.Join(", ", open.Select(q => $"{q.Name} {q.Done}/{q.Total}")) + ".";
        }

        return text;
    }

    /// <summary>The dashboard over the local day, by the hour, compared with the day before.</summary>
    public static string DashboardLink(DailyDigest digest)
    {
        ArgumentNullException.ThrowIfNull(digest);
        static string At(DateTimeOffset t) => Uri.EscapeDataString(t.UtcDateTime.ToString("yyyy-MM-ddTHH:mmZ", Invariant));
        return $"/analytics?range=custom&from={At(digest.From)}&to={At(digest.To)}&interval=hour&compare=previous";
    }

    /// <summary>The webhook payload's <c>data</c> (documented in docs/api.md under <c>digest.daily</c>).</summary>
    public static JsonObject Data(DailyDigest digest)
    {
        ArgumentNullException.ThrowIfNull(digest);
        var reasons = new JsonArray();
        foreach (var r in digest.Reasons)
        {
            reasons.Add(new JsonObject { ["reason"] = r.Key, ["label"] = r.Label, ["count"] = r.Count });
        }

        var alerts = new JsonArray();
        foreach (var a in digest.Alerts)
        {
            alerts.Add(new JsonObject { ["rule_id"] = a.RuleId, ["rule_name"] = a.RuleName, ["severity"] = Severity(a.Severity), ["count"] = a.Count });
        }

        var queues = new JsonArray();
        foreach (var q in digest.Queues)
        {
            queues.Add(new JsonObject { ["queue_id"] = q.QueueId, ["name"] = q.Name, ["done"] = q.Done, ["total"] = q.Total, ["done_that_day"] = q.DoneThatDay });
        }

        return new JsonObject
        {
            ["date"] = digest.Date.ToString("yyyy-MM-dd", Invariant),
            ["time_zone"] = digest.TimeZone,
            ["from"] = digest.From.ToUniversalTime(),
            ["to"] = digest.To.ToUniversalTime(),
            ["empty"] = digest.IsEmpty,
            ["volume"] = Figure(digest.Volume, relative: true),
            ["error_rate"] = Figure(digest.ErrorRate, relative: false),
            ["acceptance_rate"] = Figure(digest.AcceptanceRate, relative: false),
            ["errors"] = digest.Errors,
            ["accepted"] = digest.Accepted,
            ["rejected"] = digest.Rejected,
            ["rejection_reasons"] = reasons,
            ["alerts"] = alerts,
            ["queues"] = queues,
        };
    }

    private static JsonObject Figure(DigestFigure f, bool relative)
    {
        var o = new JsonObject { ["value"] = Finite(f.Value), ["previous"] = Finite(f.Previous), ["change"] = Finite(f.Change) };
        if (relative)
        {
            o["change_pct"] = Finite(f.ChangePercent);
        }

        return o;
    }

    public static string Severity(NotificationSeverity severity) => severity.ToString().ToLowerInvariant();

    /// <summary>"Sun 6 Dec 2026".</summary>
    public static string Day(DateOnly date) => date.ToString("ddd d MMM yyyy", Invariant);

    public static string Count(double? value) => value is { } v ? v.ToString("#,0", Invariant) : "–";

    /// <summary>A rate as "2.5 %" ("–" when undefined).</summary>
    public static string Percent(double? rate) => rate is { } r ? (r * 100).ToString("0.#", Invariant) + " %" : "–";

    /// <summary>"+12 % on the day before", "same as the day before", "none the day before".</summary>
    public static string VolumeChange(DigestFigure volume)
    {
        ArgumentNullException.ThrowIfNull(volume);
        return volume switch
        {
            { Previous: null or 0 } => "none the day before",
            { ChangePercent: { } pct } when Math.Abs(pct) < 0.05 => "same as the day before",
            { ChangePercent: { } pct } => $"{Signed(pct, "0.#")} % on the day before",
            _ => "–",
        };
    }

    /// <summary>"+1.2 pt", "±0 pt", "no decisions the day before".</summary>
    public static string PointsChange(DigestFigure rate)
    {
        ArgumentNullException.ThrowIfNull(rate);
        return rate.Change is { } c
            ? (Math.Abs(c * 100) < 0.05 ? "±0 pt" : $"{Signed(c * 100, "0.#")} pt") + " on the day before"
            : "none the day before";
    }

    private static string Signed(double value, string format) => (value > 0 ? "+" : value < 0 ? "−" : "") + Math.Abs(value).ToString(format, Invariant);

    private static string Plural(int n, string noun) => $"{n.ToString("#,0", Invariant)} {noun}{(n == 1 ? "" : "s")}";

    private static double? Finite(double? value) => value is { } v && double.IsFinite(v) ? v : null;
}
