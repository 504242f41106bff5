using System.Net;
using System.Text.Json;
using EvalPlatform.Core.Common;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Core.Traces;
using EvalPlatform.Core.Traces.Views;
using EvalPlatform.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace EvalPlatform.Tests.Integration.Traces;

/// <summary>
/// The trace list's issue-13 queries on both databases: the model filter partial and without case, suggestions from the
/// team's own values, saved views (API and service: personal, shared, who may edit, two teams, bad input naming the field)
/// and each reader's columns.
/// </summary>
public abstract class SavedViewTests(EvalAppFactory app)
{
    private const ApiKeyScopes All = ApiKeyScopes.Admin | ApiKeyScopes.Ingest | ApiKeyScopes.Read | ApiKeyScopes.Review;

    private static async Task<JsonElement> JsonAsync(HttpResponseMessage response, HttpStatusCode expected)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"expected {(int)expected}, got {(int)response.StatusCode}: {body}");
        return body.Length == 0 ? default : JsonDocument.Parse(body).RootElement.Clone();
    }

    private static async Task AssertProblemAsync(HttpResponseMessage response, string field)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"expected 400, got {(int)response.StatusCode}: {body}");
        Assert.Contains("application/problem+json", response.Content.Headers.ContentType?.ToString() ?? "", StringComparison.Ordinal);
        Assert.Contains($"\"{field}\"", body, StringComparison.Ordinal);
    }

    /// <summary>Runs <paramref name="act"/> as <paramref name="userId"/> with <paramref name="role"/> in the team.</summary>
    private async Task<T> AsMemberAsync<T>(Guid teamId, string userId, TeamRole role, Func<IServiceProvider, Task<T>> act)
    {
        await using var scope = app.Services.CreateAsyncScope();
        scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(teamId, userId, role);
        return await act(scope.ServiceProvider);
    }

    [Fact]
    public async Task ModelFilter_IsPartialAndWithoutCase_InTheListAndTheApi()
    {
        var (api, team) = await ApiClient.ForNewTeamAsync(app, All);
        await api.PostTraceAsync(new { user_input = "q", response = "a", model = "gpt-4o" });
        await api.PostTraceAsync(new { user_input = "q", response = "a", model = "gpt-4o-mini" });
        await api.PostTraceAsync(new { user_input = "q", response = "a", model = "claude-3-5-sonnet" });
        await api.PostTraceAsync(new { user_input = "q", response = "a" });

        foreach (var (term, expected) in new[] { ("GPT-4o", 2), ("gpt", 2), ("4O-MINI", 1), ("Claude", 1), ("llama", 0) })
        {
            var page = await AsMemberAsync(team.Id, team.OwnerId, TeamRole.Owner,
                sp => sp.GetRequiredService<TraceQueries>().ListAsync(new TraceFilter(Model: term), null, 50));
            Assert.True(expected == page.Items.Count, $"model '{term}': {page.Items.Count} rows, expected {expected}");
            Assert.All(page.Items, i => Assert.Contains(term, i.Model!, StringComparison.OrdinalIgnoreCase));
        }

        var viaApi = await api.GetJsonAsync("/api/v1/traces?model=GPT-4O");
        Assert.Equal(2, viaApi.GetProperty("items").GetArrayLength());
    }

    [Fact]
    public async Task Suggestions_AreTheTeamsOwnValues_MatchedWithoutCase()
    {
        var (api, team) = await ApiClient.ForNewTeamAsync(app, All);
        var (other, _) = await ApiClient.ForNewTeamAsync(app, All);
        await api.PostTraceAsync(new { user_input = "q", response = "a", model = "GPT-4o", environment = "Production", user_id = "alice", tags = new[] { "Refund", "billing" } });
        await api.PostTraceAsync(new { user_input = "q", response = "a", model = "gpt-4o-mini", environment = "staging", user_id = "bob", tags = new[] { "refund-2" } });
        await other.PostTraceAsync(new { user_input = "q", response = "a", model = "gpt-other-team", environment = "prod-other", user_id = "mallory", tags = new[] { "refund-other" } });

        async Task<IReadOnlyList<string>> SuggestAsync(TraceSuggestionField field, string? term) =>
            await AsMemberAsync(team.Id, team.OwnerId, TeamRole.Viewer, sp => sp.GetRequiredService<TraceQueries>().SuggestAsync(field, term));

        Assert.Equal(["GPT-4o", "gpt-4o-mini"], await SuggestAsync(TraceSuggestionField.Model, "gpt"));
        Assert.Equal(["gpt-4o-mini"], await SuggestAsync(TraceSuggestionField.Model, "MINI"));
        Assert.Equal(["Production"], await SuggestAsync(TraceSuggestionField.Environment, "prod"));
        Assert.Equal(["alice", "bob"], await SuggestAsync(TraceSuggestionField.User, null));
        Assert.Equal(["Refund", "refund-2"], await SuggestAsync(TraceSuggestionField.Tag, "REFUND"));
        Assert.Empty(await SuggestAsync(TraceSuggestionField.Tag, "other"));
    }

    [Fact]
    public async Task Api_CreatesListsReplacesAndDeletes_AViewWithItsFilterAndColumns()
    {
        var (api, _) = await ApiClient.ForNewTeamAsync(app, All);
        var created = await JsonAsync(await api.PostJsonAsync("/api/v1/views", new
        {
            name = "Rejected gpt", filter = new { status = "rejected", model = "gpt", search = "refund" }, columns = new[] { "time", "model", "cost" },
        }), HttpStatusCode.Created);
        var id = created.GetProperty("id").GetString();
        Assert.False(created.GetProperty("shared").GetBoolean());
        Assert.True(created.GetProperty("can_edit").GetBoolean());
        Assert.Equal("rejected", created.GetProperty("filter").GetProperty("status").GetString());
        // Status is always kept, after the time.
        Assert.Equal(["time", "status", "model", "cost"], created.GetProperty("columns").EnumerateArray().Select(c => c.GetString()));

        var list = await api.GetJsonAsync("/api/v1/views");
        Assert.Equal(id, list.EnumerateArray().Single().GetProperty("id").GetString());

        var replaced = await JsonAsync(await api.PutJsonAsync($"/api/v1/views/{id}", new { name = "Pending", filter = new { status = "pending" }, shared = true }), HttpStatusCode.OK);
        Assert.Equal("Pending", replaced.GetProperty("name").GetString());
        Assert.True(replaced.GetProperty("shared").GetBoolean());
        Assert.Equal(JsonValueKind.Null, replaced.GetProperty("columns").ValueKind);
        Assert.False(replaced.GetProperty("filter").TryGetProperty("model", out _));

        await JsonAsync(await api.Http.DeleteAsync($"/api/v1/views/{id}"), HttpStatusCode.NoContent);
        await JsonAsync(await api.Http.GetAsync($"/api/v1/views/{id}"), HttpStatusCode.NotFound);
        Assert.Equal(0, (await api.GetJsonAsync("/api/v1/views")).GetArrayLength());
    }

    [Fact]
    public async Task Api_BadInput_IsAProblemNamingTheField()
    {
        var (api, _) = await ApiClient.ForNewTeamAsync(app, All);
        await AssertProblemAsync(await api.PostJsonAsync("/api/v1/views", new { filter = new { } }), "name");
        await AssertProblemAsync(await api.PostJsonAsync("/api/v1/views", new { name = new string('x', 101) }), "name");
        await AssertProblemAsync(await api.PostJsonAsync("/api/v1/views", new { name = "a", columns = new[] { "time", "colour" } }), "columns");
        await AssertProblemAsync(await api.PostJsonAsync("/api/v1/views", new { name = "a", filter = new { modle = "gpt" } }), "filter.modle");
        await AssertProblemAsync(await api.PostJsonAsync("/api/v1/views", new { name = "a", filter = new { status = "great" } }), "filter.status");
        await AssertProblemAsync(await api.PostJsonAsync("/api/v1/views", new { name = "a", filter = "status=pending" }), "filter");
        await AssertProblemAsync(await api.PostJsonAsync("/api/v1/views", new { name = "a", sharde = true }), "sharde");
        await JsonAsync(await api.PostJsonAsync("/api/v1/views", new { name = "Mine" }), HttpStatusCode.Created);
        await AssertProblemAsync(await api.PostJsonAsync("/api/v1/views", new { name = "MINE" }), "name");
    }

    [Fact]
    public async Task Views_OfAnotherTeam_AreNeverListedReadChangedOrDeleted()
    {
        var (a, _) = await ApiClient.ForNewTeamAsync(app, All);
        var (b, _) = await ApiClient.ForNewTeamAsync(app, All);
        var shared = await JsonAsync(await a.PostJsonAsync("/api/v1/views", new { name = "A's shared", shared = true }), HttpStatusCode.Created);
        var id = shared.GetProperty("id").GetString();

        Assert.Equal(0, (await b.GetJsonAsync("/api/v1/views")).GetArrayLength());
        await JsonAsync(await b.Http.GetAsync($"/api/v1/views/{id}"), HttpStatusCode.NotFound);
        await JsonAsync(await b.PutJsonAsync($"/api/v1/views/{id}", new { name = "taken", shared = true }), HttpStatusCode.NotFound);
        await JsonAsync(await b.Http.DeleteAsync($"/api/v1/views/{id}"), HttpStatusCode.NotFound);
        Assert.Equal("A's shared", (await a.GetJsonAsync($"/api/v1/views/{id}")).GetProperty("name").GetString());
    }

    [Fact]
    public async Task Keys_ViewTheirOwnAndShared_AndOnlyAdminKeysChangeAnothersSharedView()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        using var reader = await ApiClient.ForTeamAsync(app, team.Id, ApiKeyScopes.Read);
        using var otherReader = await ApiClient.ForTeamAsync(app, team.Id, ApiKeyScopes.Read);
        using var admin = await ApiClient.ForTeamAsync(app, team.Id, ApiKeyScopes.Admin);
        using var ingest = await ApiClient.ForTeamAsync(app, team.Id, ApiKeyScopes.Ingest);
        var personal = (await JsonAsync(await reader.PostJsonAsync("/api/v1/views", new { name = "Mine" }), HttpStatusCode.Created)).GetProperty("id").GetString();
        var shared = (await JsonAsync(await reader.PostJsonAsync("/api/v1/views", new { name = "Ours", shared = true }), HttpStatusCode.Created)).GetProperty("id").GetString();

        var seen = await otherReader.GetJsonAsync("/api/v1/views");
        Assert.Equal([shared], seen.EnumerateArray().Select(v => v.GetProperty("id").GetString()));
        Assert.False(seen[0].GetProperty("can_edit").GetBoolean());
        await JsonAsync(await otherReader.Http.GetAsync($"/api/v1/views/{personal}"), HttpStatusCode.NotFound);
        await JsonAsync(await otherReader.PutJsonAsync($"/api/v1/views/{shared}", new { name = "Hijacked", shared = true }), HttpStatusCode.Forbidden);
        await JsonAsync(await otherReader.Http.DeleteAsync($"/api/v1/views/{shared}"), HttpStatusCode.Forbidden);
        await JsonAsync(await ingest.Http.GetAsync("/api/v1/views"), HttpStatusCode.Forbidden);

        Assert.True((await admin.GetJsonAsync($"/api/v1/views/{shared}")).GetProperty("can_edit").GetBoolean());
        await AssertProblemAsync(await admin.PutJsonAsync($"/api/v1/views/{shared}", new { name = "Ours", shared = false }), "shared");
        var renamed = await JsonAsync(await admin.PutJsonAsync($"/api/v1/views/{shared}", new { name = "Ours, tidied", shared = true }), HttpStatusCode.OK);
        Assert.Equal("Ours, tidied", renamed.GetProperty("name").GetString());
        await JsonAsync(await admin.Http.GetAsync($"/api/v1/views/{personal}"), HttpStatusCode.NotFound);
        await JsonAsync(await admin.Http.DeleteAsync($"/api/v1/views/{shared}"), HttpStatusCode.NoContent);
        Assert.Equal(["Mine"], (await reader.GetJsonAsync("/api/v1/views")).EnumerateArray().Select(v => v.GetProperty("name").GetString()));
    }

    [Fact]
    public async Task Members_SharedViewsEditableByOwnerAndAdmins_PersonalOnesSeenByTheirOwnerOnly()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        var (reviewer, _) = await TestData.CreateMemberAsync(app.Services, team.Id, TeamRole.Reviewer);
        var (viewer, _) = await TestData.CreateMemberAsync(app.Services, team.Id, TeamRole.Viewer);
        var (admin, _) = await TestData.CreateMemberAsync(app.Services, team.Id, TeamRole.Admin);
        SavedViewService Views(IServiceProvider sp) => sp.GetRequiredService<SavedViewService>();

        var shared = await AsMemberAsync(team.Id, reviewer, TeamRole.Reviewer,
            sp => Views(sp).CreateAsync(new SavedViewInput("Needs review", new TraceFilter(Status: ReviewStatus.NeedsReview), ["time", "name"], Shared: true)));
        var personal = await AsMemberAsync(team.Id, reviewer, TeamRole.Reviewer,
            sp => Views(sp).CreateAsync(new SavedViewInput("My errors", new TraceFilter(Search: "timeout"), null, Shared: false)));

        var viewerSees = await AsMemberAsync(team.Id, viewer, TeamRole.Viewer, sp => Views(sp).ListAsync());
        Assert.Equal([shared.Id], viewerSees.Select(v => v.Id));
        Assert.Equal(ReviewStatus.NeedsReview, viewerSees[0].Filter.Status);
        Assert.False(viewerSees[0].CanEdit);
        await Assert.ThrowsAsync<PermissionDeniedException>(() => AsMemberAsync(team.Id, viewer, TeamRole.Viewer,
            sp => Views(sp).UpdateAsync(shared.Id, new SavedViewInput("Mine now", null, null, Shared: true))));
        await Assert.ThrowsAsync<NotFoundException>(() => AsMemberAsync(team.Id, admin, TeamRole.Admin, sp => Views(sp).GetAsync(personal.Id)));

        var edited = await AsMemberAsync(team.Id, admin, TeamRole.Admin,
            sp => Views(sp).UpdateAsync(shared.Id, new SavedViewInput("Needs review (team)", shared.Filter, shared.Columns, Shared: true)));
        Assert.Equal("Needs review (team)", edited.Name);
        Assert.Equal(reviewer, edited.OwnerId);
        var ownerMakesItPersonal = await AsMemberAsync(team.Id, reviewer, TeamRole.Reviewer,
            sp => Views(sp).UpdateAsync(shared.Id, new SavedViewInput("Back to me", null, null, Shared: false)));
        Assert.False(ownerMakesItPersonal.Shared);
        Assert.Empty(await AsMemberAsync(team.Id, viewer, TeamRole.Viewer, sp => Views(sp).ListAsync()));
    }

    [Fact]
    public async Task Columns_AreKeptPerPersonAndTeam_WithStatusAlwaysIn()
    {
        var teamA = await TestData.CreateTeamAsync(app.Services);
        var teamB = await TestData.CreateTeamAsync(app.Services);
        var (colleague, _) = await TestData.CreateMemberAsync(app.Services, teamA.Id, TeamRole.Viewer);
        SavedViewService Views(IServiceProvider sp) => sp.GetRequiredService<SavedViewService>();

        Assert.Equal(TraceListColumns.Default, await AsMemberAsync(teamA.Id, teamA.OwnerId, TeamRole.Owner, sp => Views(sp).GetColumnsAsync()));
        var saved = await AsMemberAsync(teamA.Id, teamA.OwnerId, TeamRole.Owner, sp => Views(sp).SaveColumnsAsync(["cost", "model", "time"]));
        Assert.Equal(["status", "cost", "model", "time"], saved);
        await AsMemberAsync(teamA.Id, teamA.OwnerId, TeamRole.Owner, sp => Views(sp).SaveColumnsAsync(["time", "tags", "cost"]));

        Assert.Equal(["time", "status", "tags", "cost"], await AsMemberAsync(teamA.Id, teamA.OwnerId, TeamRole.Owner, sp => Views(sp).GetColumnsAsync()));
        Assert.Equal(TraceListColumns.Default, await AsMemberAsync(teamA.Id, colleague, TeamRole.Viewer, sp => Views(sp).GetColumnsAsync()));
        // The same person in another team starts from the default there.
        Assert.Equal(TraceListColumns.Default, await AsMemberAsync(teamB.Id, teamA.OwnerId, TeamRole.Owner, sp => Views(sp).GetColumnsAsync()));
        var bad = await Assert.ThrowsAsync<DomainValidationException>(() =>
            AsMemberAsync(teamA.Id, teamA.OwnerId, TeamRole.Owner, sp => Views(sp).SaveColumnsAsync(["time", "nope"])));
        Assert.Equal("columns", bad.Field);
    }
}

public sealed class SavedViewPostgresTests(PostgresAppFactory app) : SavedViewTests(app), IClassFixture<PostgresAppFactory>;

public sealed class SavedViewSqliteTests(SqliteAppFactory app) : SavedViewTests(app), IClassFixture<SqliteAppFactory>;
