using System.Globalization;
using System.Text;

namespace EvalPlatform.Core.Reviews;

/// <summary>The rules of each <see cref="ScoreScale"/>: which values fit, how they read, their wire names.</summary>
public static class ReviewScores
{
    public const double Good = 1;
    public const double Bad = 0;

    /// <summary>The wire name of a scale: <c>good_bad</c>, <c>one_to_five</c>, <c>zero_to_one</c>.</summary>
    public static string Wire(ScoreScale scale) => scale switch
    {
        ScoreScale.OneToFive => "one_to_five",
        ScoreScale.ZeroToOne => "zero_to_one",
        _ => "good_bad",
    };

    public static string Describe(ScoreScale scale) => scale switch
    {
        ScoreScale.OneToFive => "1 to 5",
        ScoreScale.ZeroToOne => "0 to 1",
        _ => "good or bad",
    };

    /// <summary>Null when <paramref name="value"/> fits the scale; otherwise why not.</summary>
    public static string? Check(ScoreScale scale, double value) => scale switch
    {
        _ when !double.IsFinite(value) => "Must be a finite number.",
        ScoreScale.GoodBad when value is not (Good or Bad) => "The team scores good or bad: send \"good\" or \"bad\" (or 1 or 0).",
        ScoreScale.OneToFive when value is < 1 or > 5 || value != Math.Floor(value) => "The team scores 1 to 5: send a whole number from 1 to 5.",
        ScoreScale.ZeroToOne when value is < 0 or > 1 => "The team scores 0 to 1: send a number from 0 to 1.",
        _ => null,
    };

    /// <summary>How a score reads on the scale ("good", "4", "0.75"); a value off the scale (the scale was changed since) reads as its number.</summary>
    public static string Label(ScoreScale scale, double value) => scale switch
    {
        ScoreScale.GoodBad when value == Good => "good",
        ScoreScale.GoodBad when value == Bad => "bad",
        _ => value.ToString("0.###", CultureInfo.InvariantCulture),
    };

    /// <summary>Reads a score as text ("good", "bad" or a number), as the list filter and the API take it.</summary>
    public static bool TryParse(string? text, out double value)
    {
        value = 0;
        switch (text?.Trim().ToLowerInvariant())
        {
            case "good":
                value = Good;
                return true;
            case "bad":
                value = Bad;
                return true;
            case { Length: > 0 } t:
                return double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out value) && double.IsFinite(value);
            default:
                return false;
        }
    }

    /// <summary>A rejection reason's key from its label: "Incorrect tool call" → "incorrect_tool_call".</summary>
    public static string KeyOf(string label)
    {
        var key = new StringBuilder(label.Length);
        foreach (var c in label.Trim().ToLowerInvariant())
        {
            if (char.IsAsciiLetterOrDigit(c))
            {
                key.Append(c);
            }
            else if (key.Length > 0 && key[^1] != '_')
            {
                key.Append('_');
            }
        }

        return key.ToString().TrimEnd('_');
    }
}
