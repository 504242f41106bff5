using EvalPlatform.Web.Reviews;

namespace EvalPlatform.Tests.Unit.Reviews;

/// <summary>The README's key table is the one key map (<see cref="ReviewKeys"/>) the trace view and the queues use.</summary>
public sealed class ReviewKeysDocTests
{
    private const string Begin = "<!-- review-keys:begin (generated from ReviewKeys; ReviewKeysDocTests checks it) -->";
    private const string End = "<!-- review-keys:end -->";

    [Fact]
    public void Readme_HoldsTheKeyMap_AsReviewKeysHasIt()
    {
        var path = FindReadme();
        var doc = File.ReadAllText(path).ReplaceLineEndings("\n");
        var start = doc.IndexOf(Begin, StringComparison.Ordinal);
        var end = doc.IndexOf(End, StringComparison.Ordinal);
        Assert.True(start >= 0 && end > start, $"{path} has no generated key table between its markers");
        var inDoc = doc[(start + Begin.Length)..end].Trim('\n') + "\n";
        Assert.True(inDoc == ReviewKeys.MarkdownTable(), "README.md's key table differs from ReviewKeys; replace it with:\n" + ReviewKeys.MarkdownTable());
    }

    [Fact]
    public void EachKey_MeansOneThing_InBothPlaces()
    {
        var keys = ReviewKeys.All.SelectMany(k => k.Keys.Where(x => x != "1–9" && x != "1–5")).ToList();
        Assert.Equal(keys.Count, keys.Distinct(StringComparer.OrdinalIgnoreCase).Count());
        Assert.Contains(ReviewKeys.All, k => k.Keys[0] == "N" && k.What.Contains("note", StringComparison.Ordinal) && k.Places == KeyPlaces.Both);
    }

    private static string FindReadme()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "README.md");
            if (File.Exists(candidate) && Directory.Exists(Path.Combine(dir.FullName, "docs")))
            {
                return candidate;
            }
        }

        throw new InvalidOperationException($"No README.md above {AppContext.BaseDirectory}: run the tests from the repository's build output.");
    }
}
