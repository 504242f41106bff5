using EvalPlatform.Core.Evaluators;

namespace EvalPlatform.Tests.Unit.Evaluators;

public sealed class JudgeTests
{
    [Fact]
    public void Agreement_MatchesTheWorkedExampleOfCohensKappa()
    {
        // Wikipedia, "Cohen's kappa", first example: 50 grant proposals; both yes 20, A yes B no 5, A no B yes 10, both no 15:
        // p_o = 0.7, p_e = 0.5, kappa = 0.4.
        var pairs = Enumerable.Repeat((true, true), 20).Concat(Enumerable.Repeat((true, false), 5))
            .Concat(Enumerable.Repeat((false, true), 10)).Concat(Enumerable.Repeat((false, false), 15));

        var result = EvaluatorAgreement.Compute(pairs);

        Assert.Equal(50, result.Count);
        Assert.Equal(0.7, result.PercentAgreement!.Value, 10);
        Assert.Equal(0.4, result.Kappa!.Value, 10);
        Assert.Equal((20, 5, 10, 15), (result.JudgePassHumanAccepted, result.JudgePassHumanRejected, result.JudgeFailHumanAccepted, result.JudgeFailHumanRejected));
        Assert.Equal("fair", result.Interpretation);
        Assert.Null(EvaluatorAgreement.Compute([]).Kappa);
    }

    [Theory]
    [InlineData(EvaluatorOutput.PassFail, 1.0, true)]
    [InlineData(EvaluatorOutput.PassFail, 0.0, false)]
    [InlineData(EvaluatorOutput.Scale1To5, 3.0, true)]
    [InlineData(EvaluatorOutput.Scale1To5, 2.0, false)]
    [InlineData(EvaluatorOutput.Unit0To1, 0.5, true)]
    [InlineData(EvaluatorOutput.Unit0To1, 0.49, false)]
    public void Passes_BucketsScalesAtTheirMidpoint(EvaluatorOutput output, double value, bool passes) =>
        Assert.Equal(passes, EvaluatorAgreement.Passes(output, value));

    [Theory]
    [InlineData(EvaluatorOutput.PassFail, """{"reasoning":"ok","verdict":"pass"}""", 1.0)]
    [InlineData(EvaluatorOutput.PassFail, "```json\n{\"reasoning\":\"no\",\"verdict\":false}\n```", 0.0)]
    [InlineData(EvaluatorOutput.Scale1To5, """{"reasoning":"fine","verdict":4}""", 4.0)]
    [InlineData(EvaluatorOutput.Unit0To1, """{"reasoning":"fine","verdict":"0.25"}""", 0.25)]
    public void Parse_ReadsVerdicts(EvaluatorOutput output, string text, double value)
    {
        var verdict = JudgePrompt.Parse(text, output, out var problem);
        Assert.Null(problem);
        Assert.Equal(value, verdict!.Value);
    }

    [Theory]
    [InlineData(EvaluatorOutput.PassFail, "It passes.", "not a JSON object")]
    [InlineData(EvaluatorOutput.PassFail, """{"reasoning":"?","verdict":"maybe"}""", "is not \"pass\" or \"fail\"")]
    [InlineData(EvaluatorOutput.Scale1To5, """{"reasoning":"?","verdict":3.5}""", "is not an integer from 1 to 5")]
    [InlineData(EvaluatorOutput.Unit0To1, """{"reasoning":"?","verdict":2}""", "is not a number from 0 to 1")]
    [InlineData(EvaluatorOutput.Unit0To1, """{"reasoning":"?"}""", "has no \"verdict\"")]
    [InlineData(EvaluatorOutput.Unit0To1, """{"reasoning": oops}""", "not valid JSON")]
    public void Parse_RefusesWhatIsNotAVerdict_WithTheReason(EvaluatorOutput output, string text, string reason)
    {
        Assert.Null(JudgePrompt.Parse(text, output, out var problem));
        Assert.Contains(reason, problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Render_FillsEachVariableOnce_WithoutExpandingTheTracesOwnBraces()
    {
        var text = JudgePrompt.Render("Q: {{input}} A: {{ output }} F: {{functions}} M: {{metadata}}", new JudgeVariables("{{output}}", "yes", "none", "model: x"));
        Assert.Equal("Q: {{output}} A: yes F: none M: model: x", text);
    }
}
