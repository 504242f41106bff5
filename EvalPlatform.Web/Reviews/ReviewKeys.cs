using EvalPlatform.Core.Reviews;

namespace EvalPlatform.Web.Reviews;

/// <summary>Where a reviewing key works.</summary>
[Flags]
public enum KeyPlaces
{
    TraceView = 1,
    Queue = 2,
    Both = TraceView | Queue,
}

/// <summary>One row of the key map: the keys as shown, what they do, where, and whether reviewing rights are needed.</summary>
public sealed record ReviewKey(string[] Keys, string What, KeyPlaces Places, bool Reviews, ScoreScale? OnlyOnScale = null);

/// <summary>
/// The one key map of reviewing, for the trace view and the queues alike (issue 13: <c>N</c> meant
/// "note" in one and "needs review" in the other). The shortcuts dialog (<c>?</c>) shows it and the
/// README's table is generated from it (ReviewKeysDocTests keeps them equal).
/// </summary>
public static class ReviewKeys
{
    public static IReadOnlyList<ReviewKey> All { get; } =
    [
        new(["A"], "accept (on the good/bad scale it also scores Good)", KeyPlaces.Both, Reviews: true),
        new(["R", "1–9"], "reject, then pick the reason (it also scores Bad on the good/bad scale)", KeyPlaces.Both, Reviews: true),
        new(["S"], "mark for review", KeyPlaces.Both, Reviews: true),
        new(["1–5"], "score (on the 1–5 scale)", KeyPlaces.Both, Reviews: true, ScoreScale.OneToFive),
        new(["N"], "write a note (`Esc` leaves the field)", KeyPlaces.Both, Reviews: true),
        new(["U"], "undo your last change", KeyPlaces.TraceView, Reviews: true),
        new(["Ctrl+Enter"], "in the trace view: save the note; in a queue: complete and open the next trace", KeyPlaces.Both, Reviews: true),
        new(["J", "K"], "next (older) / previous (newer) trace", KeyPlaces.TraceView, Reviews: false),
        new(["?"], "show these shortcuts", KeyPlaces.Both, Reviews: false),
    ];

    /// <summary>The rows that apply in <paramref name="place"/> for this reader and the team's scale.</summary>
    public static IEnumerable<ReviewKey> For(KeyPlaces place, bool canReview, ScoreScale scale) =>
        All.Where(k => k.Places.HasFlag(place) && (canReview || !k.Reviews) && (k.OnlyOnScale is null || k.OnlyOnScale == scale));

    /// <summary>The README's table (between its generated-table markers).</summary>
    public static string MarkdownTable()
    {
        var text = new System.Text.StringBuilder("| key | does | where |\n|---|---|---|\n");
        foreach (var k in All)
        {
            var where = k.Places switch
            {
                KeyPlaces.Both => "trace view and queues",
                KeyPlaces.TraceView => "trace view",
                _ => "queues",
            };
            text.Append("| ").AppendJoin(k.Keys.Length == 2 && k.Keys[0] == "J" ? " / " : ", then ", k.Keys.Select(x => $"`{x}`"))
                .Append(" | ").Append(k.What).Append(" | ").Append(where).Append(" |\n");
        }

        return text.ToString();
    }
}
