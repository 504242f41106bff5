using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using EvalPlatform.Core.Digests;
using EvalPlatform.Core.Notifications;

namespace EvalPlatform.Web.Notifications;

/// <summary>
/// The daily digest in Block Kit, drawn from its <c>digest.daily</c> data: a header, the day's figures with their changes
/// as fields, the top rejection reasons, the alerts that fired and the open queues as lists, and a button to the
/// dashboard for that day. The phrases are <see cref="DigestNotification"/>'s, so Slack, in-app and the preview agree.
/// </summary>
public static class SlackDigest
{
    public static JsonObject Build(StoredNotification n, string? link)
    {
        ArgumentNullException.ThrowIfNull(n);
        var d = n.Data;
        var blocks = new JsonArray
        {
            new JsonObject
            {
                ["type"] = "header",
                ["text"] = new JsonObject { ["type"] = "plain_text", ["text"] = SlackMessages.Clip($":bar_chart: {n.Title}", 150), ["emoji"] = true },
            },
        };

        var timeZone = d["time_zone"]?.GetValue<string>() ?? "UTC";
        if (d["empty"]?.GetValueKind() == JsonValueKind.True)
        {
            blocks.Add(Section(SlackMessages.Escape(n.Text)));
        }
        else
        {
            var volume = Figure(d["volume"]);
            var errors = Figure(d["error_rate"]);
            var acceptance = Figure(d["acceptance_rate"]);
            var fired = (d["alerts"] as JsonArray)?.Sum(a => a?["count"]?.GetValue<int>() ?? 0) ?? 0;
            blocks.Add(new JsonObject
            {
                ["type"] = "section",
                ["fields"] = new JsonArray
                {
                    SlackMessages.Mrkdwn($"*Traces*\n{DigestNotification.Count(volume.Value)} ({DigestNotification.VolumeChange(volume)})"),
                    SlackMessages.Mrkdwn($"*Error rate*\n{DigestNotification.Percent(errors.Value)} ({DigestNotification.PointsChange(errors)})"),
                    SlackMessages.Mrkdwn(acceptance.Value is null
                        ? "*Acceptance rate*\nNo review decisions"
                        : $"*Acceptance rate*\n{DigestNotification.Percent(acceptance.Value)} ({DigestNotification.PointsChange(acceptance)})"),
                    SlackMessages.Mrkdwn($"*Alerts fired*\n{fired.ToString("#,0", CultureInfo.InvariantCulture)}"),
                },
            });

            var reasons = Items(d["rejection_reasons"], r => $"{Text(r["label"])} — {Number(r["count"])}");
            if (reasons.Count > 0)
            {
                blocks.Add(Section("*Top rejection reasons*\n" + Bullets(reasons)));
            }
        }

        var alerts = Items(d["alerts"], a => $"{Icon(Text(a["severity"]))} {Text(a["rule_name"])} — fired {Number(a["count"])}×");
        if (alerts.Count > 0)
        {
            blocks.Add(Section("*Alerts fired*\n" + Bullets(alerts)));
        }

        var queues = Items(d["queues"], q =>
            $"{Text(q["name"])} — {Number(q["done"])} of {Number(q["total"])} done" + (q["done_that_day"]?.GetValue<int>() is > 0 and var day ? $" ({day} that day)" : ""));
        if (queues.Count > 0)
        {
            blocks.Add(Section("*Review queues*\n" + Bullets(queues)));
        }

        blocks.Add(new JsonObject
        {
            ["type"] = "context",
            ["elements"] = new JsonArray { SlackMessages.Mrkdwn(SlackMessages.Escape($"{d["date"]?.GetValue<string>()} in {timeZone}")) },
        });
        if (link is not null)
        {
            blocks.Add(new JsonObject
            {
                ["type"] = "actions",
                ["elements"] = new JsonArray
                {
                    new JsonObject
                    {
                        ["type"] = "button",
                        ["text"] = new JsonObject { ["type"] = "plain_text", ["text"] = "Open the dashboard for that day" },
                        ["url"] = link,
                        ["action_id"] = "open_dashboard",
                    },
                },
            });
        }

        return new JsonObject
        {
            ["text"] = SlackMessages.Clip($"{n.Title}: {n.Text}", 3_000),
            ["blocks"] = blocks,
        };
    }

    private static DigestFigure Figure(JsonNode? node) => new(Double(node?["value"]), Double(node?["previous"]));

    private static double? Double(JsonNode? node) => node?.GetValueKind() == JsonValueKind.Number ? node.GetValue<double>() : null;

    private static string Number(JsonNode? node) => Double(node) is { } v ? v.ToString("#,0", CultureInfo.InvariantCulture) : "–";

    private static string Text(JsonNode? node) => node?.GetValueKind() == JsonValueKind.String ? node.GetValue<string>() : "";

    private static List<string> Items(JsonNode? array, Func<JsonNode, string> line) =>
        (array as JsonArray)?.Where(i => i is not null).Select(i => SlackMessages.Escape(line(i!))).ToList() ?? [];

    private static string Bullets(IEnumerable<string> lines) => SlackMessages.Clip(string.Join("\n", lines.Select(l => "• " + l)), 3_000);

    private static JsonObject Section(string mrkdwn) => new() { ["type"] = "section", ["text"] = SlackMessages.Mrkdwn(SlackMessages.Clip(mrkdwn, 3_000)) };

    private static string Icon(string severity) => severity switch
    {
        "critical" => ":rotating_light:",
        "warning" => ":warning:",
        _ => ":bell:",
    };
}
