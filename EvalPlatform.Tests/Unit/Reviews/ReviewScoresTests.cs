using EvalPlatform.Core.Reviews;

namespace EvalPlatform.Tests.Unit.Reviews;

public sealed class ReviewScoresTests
{
    [Theory]
    [InlineData(ScoreScale.GoodBad, 1, true)]
    [InlineData(ScoreScale.GoodBad, 0, true)]
    [InlineData(ScoreScale.GoodBad, 0.5, false)]
    [InlineData(ScoreScale.OneToFive, 1, true)]
    [InlineData(ScoreScale.OneToFive, 5, true)]
    [InlineData(ScoreScale.OneToFive, 0, false)]
    [InlineData(ScoreScale.OneToFive, 4.5, false)]
    [InlineData(ScoreScale.ZeroToOne, 0, true)]
    [InlineData(ScoreScale.ZeroToOne, 0.33, true)]
    [InlineData(ScoreScale.ZeroToOne, 1.01, false)]
    [InlineData(ScoreScale.ZeroToOne, double.NaN, false)]
    public void Check_FollowsTheScale(ScoreScale scale, double value, bool fits)
    {
        Assert.Equal(fits, ReviewScores.Check(scale, value) is null);
    }

    [Theory]
    [InlineData(ScoreScale.GoodBad, 1, "good")]
    [InlineData(ScoreScale.GoodBad, 0, "bad")]
    [InlineData(ScoreScale.GoodBad, 4, "4")]
    [InlineData(ScoreScale.OneToFive, 3, "3")]
    [InlineData(ScoreScale.ZeroToOne, 0.755, "0.755")]
    public void Label_ReadsTheScore(ScoreScale scale, double value, string label)
    {
        Assert.Equal(label, ReviewScores.Label(scale, value));
    }

    [Theory]
    [InlineData("good", 1.0)]
    [InlineData(" BAD ", 0.0)]
    [InlineData("4", 4.0)]
    [InlineData("0.25", 0.25)]
    [InlineData("great", null)]
    [InlineData("", null)]
    [InlineData("NaN", null)]
    public void TryParse_ReadsWordsAndNumbers(string text, double? expected)
    {
        Assert.Equal(expected is not null, ReviewScores.TryParse(text, out var value));
        if (expected is not null)
        {
            Assert.Equal(expected.Value, value);
        }
    }

    [Theory]
    [InlineData("Hallucination", "hallucination")]
    [InlineData("Incorrect tool call", "incorrect_tool_call")]
    [InlineData("  Off-topic!! ", "off_topic")]
    [InlineData("Unsafe or policy violation", "unsafe_or_policy_violation")]
    [InlineData("Ünïcode only", "n_code_only")]
    [InlineData("¿¿", "")]
    public void KeyOf_MakesSnakeCaseKeys(string label, string key)
    {
        Assert.Equal(key, ReviewScores.KeyOf(label));
    }
}
