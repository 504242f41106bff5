using EvalPlatform.Core.Queues;

namespace EvalPlatform.Core.Evaluators;

/// <summary>
/// Judge–human agreement on the traces that have both the evaluator's score and a human verdict (accepted or rejected).
/// The judge's score is read as pass/fail: pass_fail as it is; for scales it is bucketed at the midpoint (1–5: 3 or more
/// passes; 0–1: 0.5 or more passes), so every output kind compares with the one human verdict every team has (ADR 39).
/// <see cref="Table"/> is [judge, human] with index 0 = pass/accepted, 1 = fail/rejected.
/// </summary>
public sealed record EvaluatorAgreementResult(int[,] Table, int Count, double? PercentAgreement, double? Kappa, string? Interpretation)
{
    public int JudgePassHumanAccepted => Table[0, 0];
    public int JudgePassHumanRejected => Table[0, 1];
    public int JudgeFailHumanAccepted => Table[1, 0];
    public int JudgeFailHumanRejected => Table[1, 1];
}

public static class EvaluatorAgreement
{
    /// <summary>Whether a judge's score counts as a pass, by output kind (the bucketing above).</summary>
    public static bool Passes(EvaluatorOutput output, double value) => output switch
    {
        EvaluatorOutput.PassFail => value >= 1,
        EvaluatorOutput.Scale1To5 => value >= 3,
        _ => value >= 0.5,
    };

    /// <summary>The confusion table and Cohen's kappa (<see cref="Agreement.CohensKappa(int[,])"/>) of (judge passes, human accepted) pairs.</summary>
    public static EvaluatorAgreementResult Compute(IEnumerable<(bool JudgePass, bool HumanAccepted)> pairs)
    {
        ArgumentNullException.ThrowIfNull(pairs);
        var table = new int[2, 2];
        var n = 0;
        foreach (var (judge, human) in pairs)
        {
            table[judge ? 0 : 1, human ? 0 : 1]++;
            n++;
        }

        if (n == 0)
        {
            return new EvaluatorAgreementResult(table, 0, null, null, null);
        }

        var kappa = Agreement.CohensKappa(table);
        return new EvaluatorAgreementResult(table, n, (double)(table[0, 0] + table[1, 1]) / n, kappa, kappa is { } k ? Agreement.Describe(k) : null);
    }
}
