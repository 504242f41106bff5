using System.Net;
using EvalPlatform.Core.Common;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Experiments;
using EvalPlatform.Core.GettingStarted;
using EvalPlatform.Core.Palette;
using EvalPlatform.Core.Queues;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace EvalPlatform.Tests.Integration.Palette;

/// <summary>
/// The command palette's look-ups and the getting-started checklist on both databases: a trace by id or exact external
/// id, names without case, and never another team's rows (team B holds the same external id and names).
/// </summary>
public abstract class PaletteQueriesTests(EvalAppFactory app)
{
    private static async Task<Guid> SendAsync(ApiClient client, object trace)
    {
        var response = await client.PostJsonAsync("/api/v1/traces", trace);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        using var doc = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return doc.RootElement.GetProperty("id").GetGuid();
    }

    private async Task SeedNamesAsync(TestTeam team, string queueName, string experimentName)
    {
        await using var scope = app.Services.CreateAsyncScope();
        scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(team.Id, team.OwnerId, TeamRole.Owner);
        await using var db = await scope.ServiceProvider.GetRequiredService<IEvalDbContextFactory>().CreateAsync();
        db.ReviewQueues.Add(new ReviewQueue { Id = Guid.NewGuid(), TeamId = team.Id, Name = queueName });
        db.Experiments.Add(new Experiment { Id = Guid.NewGuid(), TeamId = team.Id, Key = experimentName.ToLowerInvariant().Replace(' ', '-'), Name = experimentName });
        await db.SaveChangesAsync();
    }

    private static T Service<T>(AsyncServiceScope scope, TestTeam team, TeamRole role = TeamRole.Owner) where T : notnull
    {
        scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(team.Id, team.OwnerId, role);
        return scope.ServiceProvider.GetRequiredService<T>();
    }

    [Fact]
    public async Task Traces_FoundByIdOrExactExternalId_OnlyInTheTeam()
    {
        var (a, teamA) = await ApiClient.ForNewTeamAsync(app);
        var (b, teamB) = await ApiClient.ForNewTeamAsync(app);
        using var _ = a;
        using var __ = b;
        var mine = await SendAsync(a, new { external_id = "order-42", name = "refund chat", user_input = "Refund please" });
        var theirs = await SendAsync(b, new { external_id = "order-42", name = "their chat", user_input = "Theirs" });
        await SendAsync(a, new { external_id = "order-420", user_input = "Another" });

        await using var scope = app.Services.CreateAsyncScope();
        var palette = Service<PaletteQueries>(scope, teamA);

        var byExternal = await palette.TracesAsync("  order-42 ");
        Assert.Equal(mine, Assert.Single(byExternal).Id);
        Assert.Equal("refund chat", byExternal[0].Title);
        Assert.Equal(mine, Assert.Single(await palette.TracesAsync(mine.ToString())).Id);
        Assert.Empty(await palette.TracesAsync(theirs.ToString()));
        Assert.Empty(await palette.TracesAsync("ORDER-42"));
        Assert.Empty(await palette.TracesAsync(""));
        Assert.Empty(await palette.TracesAsync(new string('x', PaletteQueries.MaxTermLength + 1)));
    }

    [Fact]
    public async Task QueuesAndExperiments_MatchAPartOfTheName_WithoutCase_OnlyInTheTeam()
    {
        var a = await TestData.CreateTeamAsync(app.Services);
        var b = await TestData.CreateTeamAsync(app.Services);
        await SeedNamesAsync(a, "Refunds triage", "Checkout Copy");
        await SeedNamesAsync(b, "Refunds other team", "Checkout Other");

        await using var scope = app.Services.CreateAsyncScope();
        var palette = Service<PaletteQueries>(scope, a);

        Assert.Equal(["Refunds triage"], (await palette.QueuesAsync("REFUND")).Select(h => h.Title));
        Assert.Equal(["Checkout Copy"], (await palette.ExperimentsAsync("checkout")).Select(h => h.Title));
        Assert.Equal("checkout-copy", (await palette.ExperimentsAsync("copy"))[0].Key);
        Assert.Empty(await palette.QueuesAsync("other team"));
        Assert.Empty(await palette.EvaluatorsAsync("judge"));
    }

    [Fact]
    public async Task WithoutARole_TheLookUpsAreRefused()
    {
        var a = await TestData.CreateTeamAsync(app.Services);
        await using var scope = app.Services.CreateAsyncScope();
        scope.ServiceProvider.GetRequiredService<TeamContext>().SetApiKey(a.Id, Guid.NewGuid(), ApiKeyScopes.Ingest);
        var palette = scope.ServiceProvider.GetRequiredService<PaletteQueries>();

        await Assert.ThrowsAsync<PermissionDeniedException>(() => palette.QueuesAsync("x"));
        await Assert.ThrowsAsync<PermissionDeniedException>(() => scope.ServiceProvider.GetRequiredService<GettingStartedQueries>().StatusAsync());
    }

    [Fact]
    public async Task GettingStarted_TicksEachStepFromTheTeamsData_NotAnotherTeams()
    {
        var a = await TestData.CreateTeamAsync(app.Services);
        var (b, teamB) = await ApiClient.ForNewTeamAsync(app);
        using var _ = b;
        await SendAsync(b, new { user_input = "team B's trace" });
        await SeedNamesAsync(teamB, "B's queue", "B experiment");
        await TestData.CreateMemberAsync(app.Services, teamB.Id, TeamRole.Reviewer);

        async Task<GettingStartedStatus> StatusAsync()
        {
            await using var scope = app.Services.CreateAsyncScope();
            return await Service<GettingStartedQueries>(scope, a).StatusAsync();
        }

        Assert.Equal(new GettingStartedStatus(false, false, false, false, false, null), await StatusAsync());

        using var client = await ApiClient.ForTeamAsync(app, a.Id, ApiKeyScopes.Ingest | ApiKeyScopes.Review | ApiKeyScopes.Read);
        var first = await StatusAsync();
        Assert.True(first.KeyCreated);
        Assert.False(first.TraceSent);

        var id = await SendAsync(client, new { user_input = "first" });
        var sent = await StatusAsync();
        Assert.True(sent.TraceSent);
        Assert.Equal(id, sent.NewestTraceId);
        Assert.False(sent.TraceReviewed);

        var review = await client.PostJsonAsync($"/api/v1/traces/{id}/review", new { action = "accept" });
        Assert.True(review.IsSuccessStatusCode, await review.Content.ReadAsStringAsync());
        Assert.True((await StatusAsync()).TraceReviewed);

        await TestData.CreateMemberAsync(app.Services, a.Id, TeamRole.Reviewer);
        Assert.True((await StatusAsync()).ColleagueInvited);

        await SeedNamesAsync(a, "A's queue", "A experiment");
        var all = await StatusAsync();
        Assert.True(all.QueueMade);
        Assert.True(all.AllDone);
    }
}

public sealed class PaletteQueriesPostgresTests(PostgresAppFactory app) : PaletteQueriesTests(app), IClassFixture<PostgresAppFactory>;

public sealed class PaletteQueriesSqliteTests(SqliteAppFactory app) : PaletteQueriesTests(app), IClassFixture<SqliteAppFactory>;
