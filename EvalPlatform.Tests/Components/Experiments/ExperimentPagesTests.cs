using Bunit;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Experiments;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Core.Traces;
using EvalPlatform.Tests.Infrastructure;
using EvalPlatform.Web.Components.Layout;
using EvalPlatform.Web.Components.Pages.Experiments;
using Microsoft.AspNetCore.Components;
using Microsoft.Extensions.DependencyInjection;

namespace EvalPlatform.Tests.Components.Experiments;

/// <summary>The experiments list, the editor (variants, weights, configs) and the results, against the real services on SQLite.</summary>
public sealed class ExperimentPagesTests : BunitTestBase
{
    private async Task<(TestTeam Team, CurrentTeam Current)> OwnerAsync()
    {
        var owner = await TestData.CreateTeamAsync(Services);
        Services.GetRequiredService<TeamContext>().SetMember(owner.Id, owner.OwnerId, TeamRole.Owner);
        return (owner, new CurrentTeam(owner.OwnerId, owner.OwnerEmail, new Membership(owner.Id, owner.Name, TeamRole.Owner, null), []));
    }

    private static AngleSharp.Dom.IElement Field(IRenderedComponent<TestHost> cut, string id, int index = 0) =>
        cut.FindAll($"input[data-testid={id}], textarea[data-testid={id}]")[index];

    [Fact]
    public async Task TheList_IsEmptyWithACallToAction_ThenShowsStatusChips()
    {
        var (_, current) = await OwnerAsync();
        var empty = Render<TestHost>(p => p.Add(h => h.Team, current).AddChildContent<ExperimentsPage>());
        empty.WaitForAssertion(() => Assert.NotEmpty(empty.FindAll("[data-testid=experiments-empty]")));
        Assert.Equal("/experiments/new", empty.Find("[data-testid=experiments-empty] [data-testid=new-experiment]").GetAttribute("href"));

        var service = Services.GetRequiredService<ExperimentService>();
        await service.CreateAsync(new ExperimentDraft { Key = "prompt-a", Name = "Prompt A" }.ToDefinition());
        await service.CreateAsync(new ExperimentDraft { Key = "prompt-b", Name = "Prompt B" }.ToDefinition());
        await service.StartAsync("prompt-b");
        await DisposeComponentsAsync();
        var cut = Render<TestHost>(p => p.Add(h => h.Team, current).AddChildContent<ExperimentsPage>());
        cut.WaitForAssertion(() => Assert.NotEmpty(cut.FindAll("[data-testid=experiments-table]")));
        Assert.Equal(["running", "draft"], cut.FindAll("[data-testid=experiment-status]").Select(c => c.TextContent.Trim()));
    }

    [Fact]
    public async Task TheEditor_AddsAndRemovesVariants_ChecksWeightsAndConfigs_ThenCreates()
    {
        var (_, current) = await OwnerAsync();
        var cut = Render<TestHost>(p => p.Add(h => h.Team, current).AddChildContent<ExperimentEditPage>());
        cut.WaitForAssertion(() => Assert.NotEmpty(cut.FindAll("[data-testid=variant-row]")));
        Assert.Equal("The weights add up to 1.", cut.Find("[data-testid=weights-message]").TextContent.Trim());

        cut.Find("[data-testid=add-variant]").Click();
        Assert.Equal(3, cut.FindAll("[data-testid=variant-row]").Count);
        Assert.Equal("The weights add up to 1.", cut.Find("[data-testid=weights-message]").TextContent.Trim());
        cut.FindAll("[data-testid=remove-variant]")[^1].Click();
        Assert.Equal(2, cut.FindAll("[data-testid=variant-row]").Count);

        Field(cut, "variant-weight", 1).Input("0.7");
        cut.WaitForAssertion(() => Assert.Equal("The weights must add up to 1; they add up to 1.2.", cut.Find("[data-testid=weights-message]").TextContent.Trim()));
        Field(cut, "variant-config", 1).Input("{\"model\": ");
        cut.WaitForAssertion(() => Assert.Contains("Not valid JSON", cut.Find("[data-testid=variant-row]:nth-of-type(2)").TextContent + cut.Markup, StringComparison.Ordinal));
        Field(cut, "experiment-name").Change("Shorter prompt");
        Field(cut, "experiment-key").Change("shorter-prompt");
        cut.Find("[data-testid=save-experiment]").Click();
        cut.WaitForAssertion(() => Assert.Contains("must add up to 1", cut.Markup, StringComparison.Ordinal));
        Assert.Empty(await Services.GetRequiredService<ExperimentService>().ListAsync());

        Field(cut, "variant-weight", 0).Input("0.3");
        Field(cut, "variant-config", 1).Input("[1, 2]");
        cut.Find("[data-testid=save-experiment]").Click();
        cut.WaitForAssertion(() => Assert.Contains("Must be a JSON object", cut.Markup, StringComparison.Ordinal));
        Field(cut, "variant-config", 1).Input("{\"model\": \"gpt-4o-mini\", \"temperature\": 0.1}");
        cut.Find("[data-testid=save-experiment]").Click();

        var navigation = Services.GetRequiredService<NavigationManager>();
        cut.WaitForAssertion(() => Assert.EndsWith("/experiments/shorter-prompt", navigation.Uri, StringComparison.Ordinal));
        var saved = Assert.Single(await Services.GetRequiredService<ExperimentService>().ListAsync());
        Assert.Equal(("shorter-prompt", "Shorter prompt", ExperimentStatus.Draft), (saved.Key, saved.Name, saved.Status));
        Assert.Equal([("control", 0.3, "{}"), ("treatment", 0.7, "{\"model\":\"gpt-4o-mini\",\"temperature\":0.1}")], saved.Variants.Select(v => (v.Key, v.Weight, v.Config)));
    }

    [Fact]
    public async Task TheResults_ShowValuesWithIntervals_Lifts_TheMethod_AndTheSrmWarning()
    {
        var (team, current) = await OwnerAsync();
        var service = Services.GetRequiredService<ExperimentService>();
        await service.CreateAsync(new ExperimentDraft { Key = "checkout-test", Name = "Checkout" }.ToDefinition());
        await service.StartAsync("checkout-test");
        var clock = Services.GetRequiredService<TimeProvider>();
        await using (var db = await Services.GetRequiredService<IEvalDbContextFactory>().CreateAsync())
        {
            // 300 control users (1 in 3 accepted), 100 treatment users (all accepted): a 50/50 split this far off is a mismatch.
            var now = clock.GetUtcNow();
            for (var i = 0; i < 400; i++)
            {
                var id = Guid.NewGuid();
                var control = i < 300;
                db.Traces.Add(new Trace
                {
                    Id = id, TeamId = team.Id, SortKey = Trace.MakeSortKey(now, id), Experiment = "checkout-test", Variant = control ? "control" : "treatment",
                    UserId = $"u{i}", ReviewStatus = !control || i % 3 == 0 ? ReviewStatus.Accepted : ReviewStatus.Rejected, StartedAt = now, CreatedAt = now, UpdatedAt = now,
                });
            }

            await db.SaveChangesAsync();
        }

        var cut = Render<TestHost>(p => p.Add(h => h.Team, current).AddChildContent<ExperimentPage>(c => c.Add(x => x.Key, "checkout-test")));
        cut.WaitForAssertion(() => Assert.NotEmpty(cut.FindAll("[data-testid=results-primary] [data-testid=result-row]")));
        var rows = cut.FindAll("[data-testid=results-primary] [data-testid=result-row]");
        Assert.Equal(2, rows.Count);
        Assert.StartsWith("33.3 % [", rows[0].QuerySelector("[data-testid=result-value]")!.TextContent.Trim(), StringComparison.Ordinal);
        Assert.StartsWith("100.0 % [", rows[1].QuerySelector("[data-testid=result-value]")!.TextContent.Trim(), StringComparison.Ordinal);
        Assert.StartsWith("+200.0 % [", rows[1].QuerySelector("[data-testid=result-lift]")!.TextContent.Trim(), StringComparison.Ordinal);
        Assert.Equal("yes, better", rows[1].QuerySelector("[data-testid=result-significant]")!.TextContent.Trim());
        Assert.Contains("Sample ratio mismatch: the units per variant (300 / 100)", cut.Find("[data-testid=srm-warning]").TextContent, StringComparison.Ordinal);
        Assert.StartsWith("Method: ", cut.Find("[data-testid=results-primary] [data-testid=results-method]").TextContent.Trim(), StringComparison.Ordinal);
        Assert.Equal(2, cut.FindAll("[data-testid=results-guardrail]").Count);
        Assert.Contains("observations per variant", cut.Find("[data-testid=power-result]").TextContent, StringComparison.Ordinal);
        Assert.Equal(["started", "created"], cut.FindAll("[data-testid=history-entry] strong").Select(s => s.TextContent));

        // Stop through the confirm dialog (its default decision: inconclusive), with a note for the history.
        cut.Find("[data-testid=stop-experiment]").Click();
        cut.WaitForAssertion(() => Assert.NotEmpty(cut.FindAll("[data-testid=confirm-stop]")));
        cut.Find("textarea[data-testid=stop-note]").Change("Mismatch: rerun after the fix.");
        cut.Find("[data-testid=confirm-stop]").Click();
        cut.WaitForAssertion(() => Assert.Equal("stopped", cut.Find("[data-testid=experiment-status]").TextContent.Trim()));
        Assert.Equal("Inconclusive: Mismatch: rerun after the fix.", cut.Find("[data-testid=experiment-decision]").TextContent.Trim());
        Assert.Equal(ExperimentStatus.Stopped, (await service.GetAsync("checkout-test")).Status);
    }
}
