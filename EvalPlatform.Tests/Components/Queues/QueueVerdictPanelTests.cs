using Bunit;
using EvalPlatform.Core.Reviews;
using EvalPlatform.Core.Teams;
using EvalPlatform.Web.Components.Layout;
using EvalPlatform.Web.Components.Pages.Queues;
using MudBlazor;

namespace EvalPlatform.Tests.Components.Queues;

/// <summary>The queue's verdict panel on its own (issue 13's defects).</summary>
public sealed class QueueVerdictPanelTests : BunitTestBase
{
    private static CurrentTeam Owner() =>
        new("user-1", "owner@example.com", new Membership(Guid.NewGuid(), "Team", TeamRole.Owner, null), []);

    private static List<RejectionReason> Reasons(int count) =>
        [.. Enumerable.Range(0, count).Select(i => new RejectionReason { Id = Guid.NewGuid(), Key = $"reason_{i + 1}", Label = $"Reason {i + 1}", Position = i })];

    [Fact]
    public async Task RejectReasons_AreNumberedOneToNine_InOrder_AndTheTenthHasNoNumber()
    {
        var draft = new VerdictDraft();
        draft.Choose(ReviewAction.Reject);
        var cut = Render<TestHost>(p => p.Add(h => h.Team, Owner()).AddChildContent<QueueVerdictPanel>(c => c
            .Add(x => x.Draft, draft).Add(x => x.Config, new ReviewConfig(ScoreScale.GoodBad, Reasons(10)))));

        var select = cut.FindComponent<MudSelect<string>>();
        await cut.InvokeAsync(() => select.Instance.OpenMenu());

        // MudSelect renders its items twice (registration and the open list): the texts, in order, once each.
        List<string> Shown() => [.. cut.FindComponents<MudSelectItem<string>>()
            .Select(i => string.Concat(i.Nodes.Select(n => n.TextContent)).Trim()).Where(t => t.Length > 0).Distinct()];
        cut.WaitForAssertion(() => Assert.Equal(10, Shown().Count));
        var shown = Shown();
        Assert.Equal([.. Enumerable.Range(1, 9).Select(n => $"{n}. Reason {n}"), "Reason 10"], shown);
    }
}
