using System.Net;
using System.Text;
using System.Text.Json;
using EvalPlatform.Core.Teams;
using EvalPlatform.Tests.Infrastructure;
using EvalPlatform.Web.Traces;
using Microsoft.AspNetCore.Mvc.Testing;

namespace EvalPlatform.Tests.Integration.Traces;

/// <summary>Export of a filtered set with the review fields, streamed, parsed back; on each database.</summary>
public abstract class TraceExportTests(EvalAppFactory app)
{
    private const ApiKeyScopes AllScopes = ApiKeyScopes.Ingest | ApiKeyScopes.Read | ApiKeyScopes.Review;

    [Fact]
    public async Task JsonLines_OfAFilteredSet_CarryTheConversationToolCallsAndReview()
    {
        var (api, _) = await ApiClient.ForNewTeamAsync(app, AllScopes);
        var rejected = await api.PostTraceAsync(new
        {
            external_id = "exp-1", user_input = "Refund order 42?", response = "Refunded, \"fully\".", model = "gpt-4o-mini", tags = new[] { "support" },
            metadata = new { region = "eu" }, usage = new { prompt_tokens = 10, completion_tokens = 5 },
            function_calls = new[] { new { name = "refund", parameters = new { order = 42 }, result = new { ok = true }, execution_time_ms = 12.5 } },
        });
        await api.PostTraceAsync(new { external_id = "exp-2", user_input = "Hello", response = "Hi" });
        var review = await api.PostJsonAsync($"/api/v1/traces/{rejected}/review", new { action = "reject", reason = "hallucination", detail = "No such refund policy", note = "see ticket" });
        Assert.True(review.IsSuccessStatusCode, await review.Content.ReadAsStringAsync());

        var response = await api.Http.GetAsync("/api/v1/traces/export?format=jsonl&status=rejected");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/x-ndjson", response.Content.Headers.ContentType?.MediaType);
        Assert.Matches("^attachment; filename=traces-\\d{8}-\\d{6}\\.jsonl$", response.Content.Headers.ContentDisposition?.ToString());
        var line = Assert.Single(Lines(await response.Content.ReadAsStringAsync()));
        using var doc = JsonDocument.Parse(line);
        var t = doc.RootElement;
        Assert.Equal(rejected, t.GetProperty("id").GetGuid());
        Assert.Equal("exp-1", t.GetProperty("external_id").GetString());
        Assert.Equal("eu", t.GetProperty("metadata").GetProperty("region").GetString());
        Assert.Equal(15, t.GetProperty("usage").GetProperty("total_tokens").GetInt32());
        var messages = t.GetProperty("messages").EnumerateArray().ToList();
        Assert.Equal(["user", "assistant"], messages.Select(m => m.GetProperty("role").GetString()));
        Assert.Equal("Refunded, \"fully\".", messages[^1].GetProperty("content").GetString());
        var function = Assert.Single(t.GetProperty("functions").EnumerateArray());
        Assert.Equal("refund", function.GetProperty("name").GetString());
        Assert.Equal(42, function.GetProperty("arguments").GetProperty("order").GetInt32());
        Assert.True(function.GetProperty("result").GetProperty("ok").GetBoolean());
        var r = t.GetProperty("review");
        Assert.Equal("rejected", r.GetProperty("status").GetString());
        Assert.Equal("hallucination", r.GetProperty("reason").GetString());
        Assert.Equal("No such refund policy", r.GetProperty("detail").GetString());
        Assert.Equal("see ticket", r.GetProperty("note").GetString());
        Assert.NotEqual(JsonValueKind.Null, r.GetProperty("reviewed_at").ValueKind);
    }

    [Fact]
    public async Task Csv_QuotesWhatNeedsIt_AndKeepsFormulasAsText()
    {
        var (api, _) = await ApiClient.ForNewTeamAsync(app, AllScopes);
        await api.PostTraceAsync(new { external_id = "csv-1", user_input = "=HYPERLINK(\"http://evil\",\"click\")", response = "a, \"b\"\nc", tags = new[] { "x", "y" } });

        var response = await api.Http.GetAsync("/api/v1/traces/export?format=csv");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/csv", response.Content.Headers.ContentType?.MediaType);
        var rows = ParseCsv(await response.Content.ReadAsStringAsync());
        Assert.Equal(TraceExportWriter.CsvColumns, rows[0]);
        var row = Assert.Single(rows.Skip(1));
        string Cell(string column) => row[Array.IndexOf(TraceExportWriter.CsvColumns, column)];
        Assert.Equal("csv-1", Cell("external_id"));
        Assert.Equal("'=HYPERLINK(\"http://evil\",\"click\")", Cell("input"));
        Assert.Equal("a, \"b\"\nc", Cell("output"));
        Assert.Equal("x;y", Cell("tags"));
        Assert.Equal("pending", Cell("review_status"));
    }

    [Fact]
    public async Task Export_NamesTheReviewer_AsTheReviewApiDoes_InBothFormats()
    {
        var (api, _) = await ApiClient.ForNewTeamAsync(app, AllScopes);
        await api.PostTraceAsync(new { external_id = "reviewed", user_input = "q", response = "a" });
        await api.PostTraceAsync(new { external_id = "unreviewed", user_input = "q", response = "a" });
        var id = Lines(await api.Http.GetStringAsync("/api/v1/traces/export?format=jsonl")).Select(l => JsonDocument.Parse(l).RootElement)
            .Single(e => e.GetProperty("external_id").GetString() == "reviewed").GetProperty("id").GetGuid();
        Assert.True((await api.PostJsonAsync($"/api/v1/traces/{id}/review", new { action = "accept" })).IsSuccessStatusCode);
        var changed = await api.PostJsonAsync($"/api/v1/traces/{id}/review", new { action = "reject", reason = "hallucination" });
        Assert.True(changed.IsSuccessStatusCode, await changed.Content.ReadAsStringAsync());
        var review = JsonDocument.Parse(await changed.Content.ReadAsStringAsync()).RootElement;
        var name = review.GetProperty("reviewed_by_name").GetString();
        Assert.False(string.IsNullOrEmpty(name));
        Assert.NotEqual(review.GetProperty("reviewed_by").GetString(), name);

        var exported = Lines(await api.Http.GetStringAsync("/api/v1/traces/export?format=jsonl")).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        var reviewed = exported.Single(e => e.GetProperty("external_id").GetString() == "reviewed").GetProperty("review");
        Assert.Equal(review.GetProperty("reviewed_by").GetString(), reviewed.GetProperty("reviewed_by").GetString());
        Assert.Equal(name, reviewed.GetProperty("reviewed_by_name").GetString());
        var unreviewed = exported.Single(e => e.GetProperty("external_id").GetString() == "unreviewed").GetProperty("review");
        Assert.Equal(JsonValueKind.Null, unreviewed.GetProperty("reviewed_by_name").ValueKind);

        var rows = ParseCsv(await api.Http.GetStringAsync("/api/v1/traces/export?format=csv"));
        var row = rows.Skip(1).Single(r => r[Array.IndexOf(TraceExportWriter.CsvColumns, "external_id")] == "reviewed");
        Assert.Equal(name, row[Array.IndexOf(TraceExportWriter.CsvColumns, "reviewed_by_name")]);
        Assert.Equal("rejected", row[Array.IndexOf(TraceExportWriter.CsvColumns, "review_status")]);
    }

    [Fact]
    public async Task Export_PagesThroughEverything_NewestFirst_AndNeverAnotherTeamsTraces()
    {
        var (api, _) = await ApiClient.ForNewTeamAsync(app, AllScopes);
        var (other, _) = await ApiClient.ForNewTeamAsync(app, AllScopes);
        const int count = 1_150; // more than two export pages
        for (var batch = 0; batch < count / 230; batch++)
        {
            var traces = Enumerable.Range(0, 230).Select(i => new { external_id = $"p-{batch}-{i}", user_input = "q", response = "a" });
            var sent = await api.PostJsonAsync("/api/v1/traces/batch", new { traces });
            Assert.True(sent.IsSuccessStatusCode, await sent.Content.ReadAsStringAsync());
        }

        await other.PostTraceAsync(new { external_id = "other-team", user_input = "secret" });

        var lines = Lines(await api.Http.GetStringAsync("/api/v1/traces/export?format=jsonl"));

        Assert.Equal(count, lines.Count);
        var exported = lines.Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(count, exported.Select(e => e.GetProperty("id").GetGuid()).Distinct().Count());
        Assert.DoesNotContain(exported, e => e.GetProperty("external_id").GetString() == "other-team");
        var created = exported.Select(e => e.GetProperty("created_at").GetDateTimeOffset()).ToList();
        Assert.Equal(created.OrderByDescending(c => c), created);
    }

    [Theory]
    [InlineData("/api/v1/traces/export?format=xml", "format")]
    [InlineData("/api/v1/traces/export", "format")]
    [InlineData("/api/v1/traces/export?format=csv&status=maybe", "status")]
    [InlineData("/api/v1/traces/export?format=csv&from=yesterday", "from")]
    public async Task BadParameters_Are400NamingThem(string url, string field)
    {
        var (api, _) = await ApiClient.ForNewTeamAsync(app, AllScopes);

        var response = await api.Http.GetAsync(url);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.True(problem.RootElement.GetProperty("errors").TryGetProperty(field, out _), problem.RootElement.ToString());
    }

    [Fact]
    public async Task AKeyWithoutTheReadScope_Is403()
    {
        var (api, _) = await ApiClient.ForNewTeamAsync(app, ApiKeyScopes.Ingest);

        Assert.Equal(HttpStatusCode.Forbidden, (await api.Http.GetAsync("/api/v1/traces/export?format=jsonl")).StatusCode);
    }

    [Fact]
    public async Task TheDownloadFromThePage_ExportsTheMembersTeam_AndRefusesATeamTheyAreNotIn()
    {
        var (api, team) = await ApiClient.ForNewTeamAsync(app, AllScopes);
        var (_, otherTeam) = await ApiClient.ForNewTeamAsync(app, AllScopes);
        await api.PostTraceAsync(new { external_id = "page-1", user_input = "q", response = "a" });
        using var browser = app.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = true });
        var signIn = await FormPoster.SubmitAsync(browser, "/account/login", "login",
            new Dictionary<string, string> { ["Input.Email"] = team.OwnerEmail, ["Input.Password"] = team.OwnerPassword });
        Assert.Equal(HttpStatusCode.Redirect, signIn.StatusCode);

        var mine = await browser.GetAsync($"/traces/export?team={team.Id}&format=jsonl");
        var theirs = await browser.GetAsync($"/traces/export?team={otherTeam.Id}&format=jsonl");

        Assert.Equal(HttpStatusCode.OK, mine.StatusCode);
        Assert.Equal("page-1", JsonDocument.Parse(Assert.Single(Lines(await mine.Content.ReadAsStringAsync()))).RootElement.GetProperty("external_id").GetString());
        Assert.Equal(HttpStatusCode.NotFound, theirs.StatusCode);
    }

    private static List<string> Lines(string body) => body.Split('\n', StringSplitOptions.RemoveEmptyEntries).ToList();

    /// <summary>RFC 4180, as a spreadsheet reads it: quoted cells may hold commas, quotes and line breaks.</summary>
    private static List<string[]> ParseCsv(string text)
    {
        var rows = new List<string[]>();
        var row = new List<string>();
        var cell = new StringBuilder();
        var quoted = false;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < text.Length && text[i + 1] == '"')
                {
                    cell.Append('"');
                    i++;
                }
                else if (c == '"')
                {
                    quoted = false;
                }
                else
                {
                    cell.Append(c);
                }
            }
            else if (c == '"')
            {
                quoted = true;
            }
            else if (c == ',')
            {
                row.Add(cell.ToString());
                cell.Clear();
            }
            else if (c == '\r' && i + 1 < text.Length && text[i + 1] == '\n')
            {
                row.Add(cell.ToString());
                cell.Clear();
                rows.Add([.. row]);
                row.Clear();
                i++;
            }
            else
            {
                cell.Append(c);
            }
        }

        return rows;
    }
}

public sealed class TraceExportPostgresTests(PostgresAppFactory app) : TraceExportTests(app), IClassFixture<PostgresAppFactory>;

public sealed class TraceExportSqliteTests(SqliteAppFactory app) : TraceExportTests(app), IClassFixture<SqliteAppFactory>;
