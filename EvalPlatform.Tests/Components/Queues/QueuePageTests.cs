using Bunit;
using EvalPlatform.Core.Ingestion;
using EvalPlatform.Core.Queues;
using EvalPlatform.Core.Reviews;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Core.Traces;
using EvalPlatform.Tests.Infrastructure;
using EvalPlatform.Web.Components.Layout;
using EvalPlatform.Web.Components.Pages.Queues;
using Microsoft.AspNetCore.Components.Web;
using Microsoft.Extensions.DependencyInjection;

namespace EvalPlatform.Tests.Components.Queues;

/// <summary>The /review/{id} page on real services: the keyboard walk, the verdict's checks, and what a Viewer sees.</summary>
public sealed class QueuePageTests : BunitTestBase
{
    private readonly CancellationTokenSource _writer = new();
    private TestTeam _team = default!;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        _ = Services.GetRequiredService<IngestionQueue>().RunAsync(_writer.Token);
        _team = await TestData.CreateTeamAsync(Services);
        Services.GetRequiredService<TeamContext>().SetMember(_team.Id, _team.OwnerId, TeamRole.Owner);
    }

    protected override async Task CleanupAsync()
    {
        await _writer.CancelAsync();
        _writer.Dispose();
    }

    private async Task<Guid> IngestAsync(string input)
    {
        await using var scope = Services.CreateAsyncScope();
        scope.ServiceProvider.GetRequiredService<TeamContext>().SetApiKey(_team.Id, Guid.NewGuid(), ApiKeyScopes.Ingest);
        var json = System.Text.Json.JsonSerializer.SerializeToElement(new { name = input, user_input = input, response = "An answer." });
        var outcome = await scope.ServiceProvider.GetRequiredService<TraceIngestionService>().IngestOneAsync(json);
        Assert.True(outcome.Items[0].IsStored);
        return outcome.Items[0].Id!.Value;
    }

    private IRenderedComponent<TestHost> RenderQueue(Guid queueId, TeamRole role = TeamRole.Owner)
    {
        var current = new CurrentTeam(_team.OwnerId, _team.OwnerEmail, new Membership(_team.Id, _team.Name, role, null), []);
        return Render<TestHost>(p => p.Add(h => h.Team, current).AddChildContent<QueuePage>(c => c.Add(x => x.QueueId, queueId)));
    }

    private static string? TraceShown(IRenderedComponent<TestHost> cut) => cut.Find("[data-testid=queue-work]").GetAttribute("data-trace-id");

    [Fact]
    public async Task CtrlEnter_CompletesTheItem_AppliesTheVerdict_AndOpensTheNext()
    {
        var first = await IngestAsync("first question");
        var second = await IngestAsync("second question");
        var queue = await Services.GetRequiredService<QueueService>().CreateAsync(
            new QueueDefinition("Everything", new TraceFilter(), Instructions: "Reject **made-up** order numbers. <script>alert(1)</script>"));

        var cut = RenderQueue(queue.Id);

        cut.WaitForAssertion(() => Assert.Equal(first.ToString(), TraceShown(cut)));
        Assert.Contains("<strong>made-up</strong>", cut.Find("[data-testid=queue-instructions]").InnerHtml, StringComparison.Ordinal);
        Assert.Empty(cut.FindAll("[data-testid=queue-instructions] script"));
        Assert.Equal("0", cut.Find("[data-testid=queue-done]").TextContent);

        cut.Find("[data-testid=queue-work]").KeyDown(new KeyboardEventArgs { Key = "a" });
        cut.WaitForAssertion(() => Assert.Equal("true", cut.Find("[data-testid=verdict-accept]").GetAttribute("aria-pressed")));
        cut.Find("[data-testid=queue-work]").KeyDown(new KeyboardEventArgs { Key = "Enter", CtrlKey = true });

        cut.WaitForAssertion(() => Assert.Equal(second.ToString(), TraceShown(cut)));
        Assert.Equal("1", cut.Find("[data-testid=queue-done]").TextContent);
        Assert.Equal("false", cut.Find("[data-testid=verdict-accept]").GetAttribute("aria-pressed"));
        var review = await Services.GetRequiredService<ReviewService>().GetAsync(first);
        Assert.Equal((ReviewStatus.Accepted, _team.OwnerId), (review.Status, review.ReviewedBy));

        // Reject with the first reason by keys alone, then Ctrl+Enter: the queue is done.
        cut.Find("[data-testid=queue-work]").KeyDown(new KeyboardEventArgs { Key = "r" });
        cut.Find("[data-testid=queue-work]").KeyDown(new KeyboardEventArgs { Key = "1" });
        cut.Find("[data-testid=queue-work]").KeyDown(new KeyboardEventArgs { Key = "Enter", CtrlKey = true });

        cut.WaitForAssertion(() => cut.Find("[data-testid=queue-empty]"));
        Assert.Equal("2", cut.Find("[data-testid=queue-done]").TextContent);
        Assert.Equal("0", cut.Find("[data-testid=queue-remaining]").TextContent);
        var rejected = await Services.GetRequiredService<ReviewService>().GetAsync(second);
        Assert.Equal((ReviewStatus.Rejected, "hallucination"), (rejected.Status, rejected.Reason));
    }

    [Fact]
    public async Task CtrlEnter_WithoutAVerdict_SaysWhatIsMissing_AndStaysOnTheTrace()
    {
        var only = await IngestAsync("a question");
        var queue = await Services.GetRequiredService<QueueService>().CreateAsync(new QueueDefinition("Everything", new TraceFilter()));
        var cut = RenderQueue(queue.Id);
        cut.WaitForAssertion(() => Assert.Equal(only.ToString(), TraceShown(cut)));

        cut.Find("[data-testid=queue-work]").KeyDown(new KeyboardEventArgs { Key = "Enter", CtrlKey = true });
        cut.WaitForAssertion(() => Assert.Contains("Choose a verdict first", cut.Find("[data-testid=verdict-error]").TextContent, StringComparison.Ordinal));
        cut.Find("[data-testid=queue-work]").KeyDown(new KeyboardEventArgs { Key = "r" });
        cut.Find("[data-testid=queue-work]").KeyDown(new KeyboardEventArgs { Key = "Enter", CtrlKey = true });

        cut.WaitForAssertion(() => Assert.Contains("reason", cut.Find("[data-testid=verdict-error]").TextContent, StringComparison.Ordinal));
        Assert.Equal(only.ToString(), TraceShown(cut));
        Assert.Equal(ReviewStatus.Pending, (await Services.GetRequiredService<ReviewService>().GetAsync(only)).Status);
    }

    [Fact]
    public async Task AViewer_FollowsTheQueue_ButGetsNoWork()
    {
        await IngestAsync("a question");
        var queue = await Services.GetRequiredService<QueueService>().CreateAsync(new QueueDefinition("Everything", new TraceFilter()));
        Services.GetRequiredService<TeamContext>().SetMember(_team.Id, _team.OwnerId, TeamRole.Viewer);

        var cut = RenderQueue(queue.Id, TeamRole.Viewer);

        cut.WaitForAssertion(() => cut.Find("[data-testid=reviewer-progress]"));
        Assert.Empty(cut.FindAll("[data-testid=queue-work]"));
        Assert.Equal("1", cut.Find("[data-testid=queue-remaining]").TextContent);
    }
}
