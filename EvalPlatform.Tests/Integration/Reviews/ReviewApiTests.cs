using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using EvalPlatform.Core.Reviews;
using EvalPlatform.Core.Teams;
using EvalPlatform.Tests.Infrastructure;

namespace EvalPlatform.Tests.Integration.Reviews;

/// <summary><c>POST /traces/{id}/review</c>, the review in <c>GET /traces/{id}</c>, the list's review filters, on each database.</summary>
public abstract class ReviewApiTests(EvalAppFactory app)
{
    private async Task<(ApiClient Api, TestTeam Team, Guid TraceId)> ReviewerKeyAsync(ApiKeyScopes scopes = ApiKeyScopes.Review | ApiKeyScopes.Read | ApiKeyScopes.Ingest)
    {
        var (api, team) = await ApiClient.ForNewTeamAsync(app, scopes | ApiKeyScopes.Ingest);
        var id = await api.PostTraceAsync(new { user_input = "Where is my order?", response = "It shipped yesterday." });
        if (!scopes.HasFlag(ApiKeyScopes.Ingest))
        {
            api.Dispose();
            api = await ApiClient.ForTeamAsync(app, team.Id, scopes);
        }

        return (api, team, id);
    }

    private static async Task<JsonElement> OkJsonAsync(HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode}: {body}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    [Fact]
    public async Task Review_WithTheReviewScope_AnswersTheReview_AndTheTraceShowsItWithItsHistory()
    {
        var (api, _, id) = await ReviewerKeyAsync();
        using var _api = api;

        var review = await OkJsonAsync(await api.PostJsonAsync($"/api/v1/traces/{id}/review",
            new { action = "reject", reason = "hallucination", detail = "Invents a tracking number.", note = "See <script>x</script>" }));

        Assert.Equal("rejected", review.GetProperty("status").GetString());
        Assert.Equal("hallucination", review.GetProperty("reason").GetString());
        Assert.Equal("Hallucination", review.GetProperty("reason_label").GetString());
        Assert.Equal(0, review.GetProperty("score").GetDouble());
        Assert.Equal("bad", review.GetProperty("score_label").GetString());
        Assert.StartsWith("api-key:", review.GetProperty("reviewed_by").GetString(), StringComparison.Ordinal);
        Assert.Equal("API key 'test key'", review.GetProperty("reviewed_by_name").GetString());
        Assert.True(review.GetProperty("can_undo").GetBoolean());

        var trace = await api.GetJsonAsync($"/api/v1/traces/{id}");
        Assert.Equal("rejected", trace.GetProperty("review_status").GetString());
        var stored = trace.GetProperty("review");
        Assert.Equal("Invents a tracking number.", stored.GetProperty("detail").GetString());
        Assert.Equal("See <script>x</script>", stored.GetProperty("note").GetString());
        var row = stored.GetProperty("history")[0];
        Assert.Equal(1, row.GetProperty("version").GetInt32());
        Assert.Equal("reject", row.GetProperty("action").GetString());
        Assert.Equal("API key 'test key'", row.GetProperty("actor").GetString());
        Assert.Equal("pending", row.GetProperty("from").GetProperty("status").GetString());
        Assert.Equal("rejected", row.GetProperty("to").GetProperty("status").GetString());
        Assert.Equal("hallucination", row.GetProperty("to").GetProperty("reason").GetString());
    }

    [Fact]
    public async Task ScoreAndNote_OnTheirOwn_AndUndo()
    {
        var (api, _, id) = await ReviewerKeyAsync();
        using var _api = api;

        await OkJsonAsync(await api.PostJsonAsync($"/api/v1/traces/{id}/review", new { action = "accept" }));
        var scored = await OkJsonAsync(await api.PostJsonAsync($"/api/v1/traces/{id}/review", """{"score":"bad","note":"Second thoughts."}"""));
        Assert.Equal(("accepted", 0.0, "Second thoughts."), (scored.GetProperty("status").GetString(), scored.GetProperty("score").GetDouble(), scored.GetProperty("note").GetString()));
        Assert.Equal("edit", scored.GetProperty("history")[0].GetProperty("action").GetString());

        var undone = await OkJsonAsync(await api.PostJsonAsync($"/api/v1/traces/{id}/review", new { action = "undo" }));
        Assert.Equal(1.0, undone.GetProperty("score").GetDouble());
        Assert.Equal(JsonValueKind.Null, undone.GetProperty("note").ValueKind);
        Assert.Equal(2, undone.GetProperty("history")[0].GetProperty("undone_version").GetInt32());

        var cleared = await OkJsonAsync(await api.PostJsonAsync($"/api/v1/traces/{id}/review", """{"action":"reset","score":null}"""));
        Assert.Equal(("pending", JsonValueKind.Null), (cleared.GetProperty("status").GetString(), cleared.GetProperty("score").ValueKind));
    }

    public static TheoryData<string, string> BadBodies() => new()
    {
        { """[]""", "$" },
        { """{}""", "action" },
        { """{"action":"approve"}""", "action" },
        { """{"action":42}""", "action" },
        { """{"action":"reject"}""", "reason" },
        { """{"action":"reject","reason":"rude"}""", "reason" },
        { """{"action":"accept","reason":"hallucination"}""", "reason" },
        { """{"action":"accept","detail":"why"}""", "detail" },
        { """{"action":"accept","score":7}""", "score" },
        { """{"score":"great"}""", "score" },
        { """{"score":true}""", "score" },
        { """{"note":5}""", "note" },
        { """{"action":"accept","verdict":"yes"}""", "verdict" },
        { """{"action":"reset","score":1}""", "score" },
        { """{"action":"undo","note":"x"}""", "note" },
        { "{\"action\":\"reject\",\"reason\":\"hallucination\",\"detail\":\"" + new string('x', 2001) + "\"}", "detail" },
    };

    [Theory]
    [MemberData(nameof(BadBodies))]
    public async Task BadInput_Is400_NamingTheField_AndChangesNothing(string body, string field)
    {
        var (api, _, id) = await ReviewerKeyAsync();
        using var _api = api;

        var response = await api.PostJsonAsync($"/api/v1/traces/{id}/review", body);

        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var errors = JsonDocument.Parse(text).RootElement.GetProperty("errors");
        Assert.True(errors.TryGetProperty(field, out _), text);
        var trace = await api.GetJsonAsync($"/api/v1/traces/{id}");
        Assert.Equal(0, trace.GetProperty("review").GetProperty("version").GetInt32());
    }

    [Fact]
    public async Task TheLongestNote_FitsEvenFullyEscaped()
    {
        var (api, _, id) = await ReviewerKeyAsync();
        using var _api = api;
        var note = string.Concat(Enumerable.Repeat("é", ReviewCommand.MaxNoteLength));
        var escaped = "{\"note\":\"" + string.Concat(note.Select(c => $"\\u{(int)c:x4}")) + "\"}";

        var review = await OkJsonAsync(await api.PostJsonAsync($"/api/v1/traces/{id}/review", escaped));

        Assert.Equal(note, review.GetProperty("note").GetString());
    }

    [Fact]
    public async Task UndoWithNothingToUndo_Is409()
    {
        var (api, _, id) = await ReviewerKeyAsync();
        using var _api = api;

        var response = await api.PostJsonAsync($"/api/v1/traces/{id}/review", new { action = "undo" });

        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
    }

    [Fact]
    public async Task AKeyWithoutTheReviewScope_Is403_ButAnAdminKeyMayReview()
    {
        var (reader, team, id) = await ReviewerKeyAsync(ApiKeyScopes.Read | ApiKeyScopes.Ingest);
        using var _reader = reader;

        var refused = await reader.PostJsonAsync($"/api/v1/traces/{id}/review", new { action = "accept" });
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        var problem = await refused.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Contains("'review'", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);

        using var admin = await ApiClient.ForTeamAsync(app, team.Id, ApiKeyScopes.Admin);
        await OkJsonAsync(await admin.PostJsonAsync($"/api/v1/traces/{id}/review", new { action = "accept" }));
    }

    [Fact]
    public async Task AnotherTeamsTrace_Is404_AndStaysUnreviewed()
    {
        var (api, _, _) = await ReviewerKeyAsync();
        using var _api = api;
        var (owner, _, theirs) = await ReviewerKeyAsync();
        using var _owner = owner;

        var response = await api.PostJsonAsync($"/api/v1/traces/{theirs}/review", new { action = "reject", reason = "hallucination" });

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("pending", (await owner.GetJsonAsync($"/api/v1/traces/{theirs}")).GetProperty("review_status").GetString());
    }

    [Fact]
    public async Task TheList_FiltersByStatusReasonReviewerAndScore()
    {
        var (api, team, first) = await ReviewerKeyAsync();
        using var _api = api;
        var second = await api.PostTraceAsync(new { user_input = "second" });
        var third = await api.PostTraceAsync(new { user_input = "third" });
        await OkJsonAsync(await api.PostJsonAsync($"/api/v1/traces/{first}/review", new { action = "reject", reason = "incomplete" }));
        await OkJsonAsync(await api.PostJsonAsync($"/api/v1/traces/{second}/review", new { action = "accept" }));
        var keyId = (await api.GetJsonAsync("/api/v1/whoami")).GetProperty("api_key_id").GetGuid();

        async Task<Guid[]> Ids(string query) =>
            (await api.GetJsonAsync("/api/v1/traces?" + query)).GetProperty("items").EnumerateArray().Select(i => i.GetProperty("id").GetGuid()).Order().ToArray();

        Assert.Equal([first], await Ids("status=rejected&reason=incomplete"));
        Assert.Equal([second], await Ids("score=good"));
        Assert.Equal([first], await Ids("score_max=0.5"));
        Assert.Equal(new[] { first, second }.Order(), await Ids($"reviewer=api-key:{keyId}"));
        Assert.Equal([third], await Ids("status=pending"));
        Assert.Empty(await Ids($"reviewer={team.OwnerEmail}"));
        var row = (await api.GetJsonAsync("/api/v1/traces?reason=incomplete")).GetProperty("items")[0];
        Assert.Equal(("incomplete", 0.0), (row.GetProperty("review_reason").GetString(), row.GetProperty("review_score").GetDouble()));

        var bad = await api.Http.GetAsync("/api/v1/traces?score=great&score_min=good");
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        var errors = (await bad.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors");
        Assert.True(errors.TryGetProperty("score", out _));
        Assert.True(errors.TryGetProperty("score_min", out _));
    }

    [Fact]
    public async Task ReviewSettings_ListTheReasonKeysAndTheScale_ForReadOrReviewKeys()
    {
        var (api, team, _) = await ReviewerKeyAsync(ApiKeyScopes.Review);
        using var _api = api;

        var settings = await api.GetJsonAsync("/api/v1/review-settings");

        Assert.Equal("good_bad", settings.GetProperty("score_scale").GetString());
        Assert.Equal("hallucination", settings.GetProperty("reasons")[0].GetProperty("key").GetString());
        Assert.Equal(6, settings.GetProperty("reasons").GetArrayLength());
        using var ingestOnly = await ApiClient.ForTeamAsync(app, team.Id, ApiKeyScopes.Ingest);
        Assert.Equal(HttpStatusCode.Forbidden, (await ingestOnly.Http.GetAsync("/api/v1/review-settings")).StatusCode);
    }
}

public sealed class ReviewApiPostgresTests(PostgresAppFactory app) : ReviewApiTests(app), IClassFixture<PostgresAppFactory>;

public sealed class ReviewApiSqliteTests(SqliteAppFactory app) : ReviewApiTests(app), IClassFixture<SqliteAppFactory>;
