using EvalPlatform.Core.LangSmith.Connector;

namespace EvalPlatform.Tests.Unit.LangSmith;

/// <summary>The status page's figures from a project's saved counts: today's imports (UTC day), a backfill's rate and time left.</summary>
public sealed class LangSmithProgressTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 7, 23, 50, 0, TimeSpan.Zero);

    private static LangSmithProject Project() => new() { Name = "p" };

    [Fact]
    public void CountImported_AddsWithinADay_AndStartsAfreshOnTheNext()
    {
        var p = Project();
        LangSmithProgress.CountImported(p, 10, T0);
        LangSmithProgress.CountImported(p, 5, T0.AddMinutes(9));
        Assert.Equal(15, LangSmithProgress.ImportedToday(p, T0.AddMinutes(9)));
        Assert.Equal(0, LangSmithProgress.ImportedToday(p, T0.AddMinutes(11)));

        LangSmithProgress.CountImported(p, 3, T0.AddMinutes(11));
        Assert.Equal(3, LangSmithProgress.ImportedToday(p, T0.AddMinutes(12)));
    }

    [Fact]
    public void Day_IsTheUtcDay_WhateverTheOffset()
    {
        var berlinMorning = new DateTimeOffset(2026, 12, 8, 0, 30, 0, TimeSpan.FromHours(1));
        Assert.Equal(new DateTimeOffset(2026, 12, 7, 0, 0, 0, TimeSpan.Zero), LangSmithProgress.Day(berlinMorning));
    }

    [Fact]
    public void RunsPerMinute_CountsSinceTheResume_ToTheLastPage_AndTimeLeftGoesToTheEstimate()
    {
        var p = Project();
        p.EstimatedRuns = 1_000;
        p.RunsSeen = 400;
        p.BackfillRunsAtResume = 100;
        p.BackfillResumedAt = T0;
        p.LastSyncAt = T0.AddMinutes(3);
        Assert.Equal(100, LangSmithProgress.RunsPerMinute(p));
        Assert.Equal(TimeSpan.FromMinutes(6), LangSmithProgress.TimeLeft(p, 100));

        p.RunsSeen = 1_200; // more than LangSmith estimated: nothing left, not a negative time
        Assert.Equal(TimeSpan.Zero, LangSmithProgress.TimeLeft(p, LangSmithProgress.RunsPerMinute(p)));
        p.EstimatedRuns = null;
        Assert.Null(LangSmithProgress.TimeLeft(p, 100));
    }

    [Fact]
    public void RunsPerMinute_IsNull_BeforeAPageSinceTheResume_AndOnceTheBackfillIsDone()
    {
        var p = Project();
        p.RunsSeen = 50;
        p.BackfillRunsAtResume = 50;
        p.BackfillResumedAt = T0;
        p.LastSyncAt = T0.AddMinutes(-5); // the last page before the resume
        Assert.Null(LangSmithProgress.RunsPerMinute(p));

        p.RunsSeen = 80;
        p.LastSyncAt = T0.AddMinutes(1);
        Assert.Equal(30, LangSmithProgress.RunsPerMinute(p));
        p.BackfillDone = true;
        Assert.Null(LangSmithProgress.RunsPerMinute(p));
    }
}
