using System.Globalization;
using System.Text.Json;

namespace EvalPlatform.Core.Evaluators;

/// <summary>The fields of a trace a rubric may name.</summary>
public sealed record JudgeVariables(string Input, string Output, string Functions, string Metadata);

/// <summary>A judge's parsed answer: the score's value(s) and the reasoning.</summary>
public sealed record JudgeVerdict(double Value, string? Label, string Reasoning);

/// <summary>The judge's prompt and the reading of its answer; pure, so the rules are unit-tested.</summary>
public static class JudgePrompt
{
    public static readonly string[] Variables = ["input", "output", "functions", "metadata"];

    /// <summary>The rubric with each <c>{{name}}</c> replaced (single pass: a trace's text containing <c>{{…}}</c> is not expanded again).</summary>
    public static string Render(string template, JudgeVariables v)
    {
        ArgumentNullException.ThrowIfNull(template);
        ArgumentNullException.ThrowIfNull(v);
        return System.Text.RegularExpressions.Regex.Replace(template, @"\{\{\s*(input|output|functions|metadata)\s*\}\}", m => m.Groups[1].Value switch
        {
            "input" => v.Input,
            "output" => v.Output,
            "functions" => v.Functions,
            _ => v.Metadata,
        }, System.Text.RegularExpressions.RegexOptions.None, TimeSpan.FromSeconds(1));
    }

    /// <summary>The system instruction: the structured answer the judge must give for <paramref name="output"/>.</summary>
    public static string Instructions(EvaluatorOutput output) =>
        "You are an evaluator grading one interaction of an LLM application against the rubric you are given. " +
        "Answer with a single JSON object and nothing else: {\"reasoning\": \"<one short paragraph>\", \"verdict\": " + output switch
        {
            EvaluatorOutput.PassFail => "\"pass\" or \"fail\"}",
            EvaluatorOutput.Scale1To5 => "an integer from 1 (worst) to 5 (best)}",
            _ => "a number from 0.0 (worst) to 1.0 (best)}",
        };

    /// <summary>Reads the judge's answer; null with the reason when it is not a verdict of the expected kind (never a guessed score).</summary>
    public static JudgeVerdict? Parse(string text, EvaluatorOutput output, out string? problem)
    {
        problem = null;
        var json = ExtractObject(text);
        if (json is null)
        {
            problem = "The judge's answer is not a JSON object.";
            return null;
        }

        try
        {
            using var doc = JsonDocument.Parse(json);
            var root = doc.RootElement;
            var reasoning = root.TryGetProperty("reasoning", out var r) && r.ValueKind == JsonValueKind.String ? r.GetString()! : "";
            if (!root.TryGetProperty("verdict", out var verdict))
            {
                problem = "The judge's answer has no \"verdict\".";
                return null;
            }

            JudgeVerdict? result = output switch
            {
                EvaluatorOutput.PassFail => verdict.ValueKind switch
                {
                    JsonValueKind.True => new JudgeVerdict(1, "pass", reasoning),
                    JsonValueKind.False => new JudgeVerdict(0, "fail", reasoning),
                    JsonValueKind.String => verdict.GetString()!.Trim().ToLowerInvariant() switch
                    {
                        "pass" or "passed" or "true" or "yes" => new JudgeVerdict(1, "pass", reasoning),
                        "fail" or "failed" or "false" or "no" => new JudgeVerdict(0, "fail", reasoning),
                        _ => null,
                    },
                    _ => null,
                },
                EvaluatorOutput.Scale1To5 => Number(verdict) is { } n && n == Math.Floor(n) && n is >= 1 and <= 5 ? new JudgeVerdict(n, null, reasoning) : null,
                _ => Number(verdict) is { } u && u is >= 0 and <= 1 ? new JudgeVerdict(u, null, reasoning) : null,
            };
            if (result is null)
            {
                problem = $"The judge's verdict {Clip(verdict.GetRawText())} is not {Expected(output)}.";
            }

            return result;
        }
        catch (JsonException)
        {
            problem = "The judge's answer is not valid JSON.";
            return null;
        }
    }

    public static string Expected(EvaluatorOutput output) => output switch
    {
        EvaluatorOutput.PassFail => "\"pass\" or \"fail\"",
        EvaluatorOutput.Scale1To5 => "an integer from 1 to 5",
        _ => "a number from 0 to 1",
    };

    private static double? Number(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Number when e.TryGetDouble(out var d) && double.IsFinite(d) => d,
        JsonValueKind.String when double.TryParse(e.GetString(), NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d) => d,
        _ => null,
    };

    // A model may wrap its JSON in a code fence or a sentence: take the outermost {...}.
    private static string? ExtractObject(string text)
    {
        var start = text.IndexOf('{', StringComparison.Ordinal);
        var end = text.LastIndexOf('}');
        return start >= 0 && end > start ? text[start..(end + 1)] : null;
    }

    private static string Clip(string s) => s.Length > 60 ? s[..60] + "…" : s;
}

/// <summary>Renders a trace's Chat, Functions and Metadata as the rubric's variables (Web: from the trace view's own readers).</summary>
public interface IJudgeInputs
{
    JudgeVariables From(Traces.Trace trace, IReadOnlyList<Traces.Span> spans);
}
