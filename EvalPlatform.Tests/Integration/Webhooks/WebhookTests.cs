using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using EvalPlatform.Core.Common;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Core.Webhooks;
using EvalPlatform.Data;
using EvalPlatform.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace EvalPlatform.Tests.Integration.Webhooks;

/// <summary>Signed inbound webhooks end to end, on each database, on a clock the tests move.</summary>
public abstract class WebhookTests(ClockedAppFactory app)
{
    private const string Header = "X-EvalPlatform-Signature";

    private static string Trace(string? externalId = null, string userInput = "Where is my order?") => JsonSerializer.Serialize(new
    {
        external_id = externalId,
        user_input = userInput,
        response = "It shipped.",
        model = "gpt-4o-mini",
        tags = new[] { "from-hook" },
    });

    /// <summary>
    /// The scheme written out independently of the app's code: HMAC-SHA256 over "t.path.body" keyed with the secret's UTF-8
    /// bytes, the path being the one <see cref="PostAsync"/> sends to (its path and query).
    /// </summary>
    private static string Sign(string secret, long t, string body, Guid teamId, string source = "github") =>
        $"t={t.ToString(CultureInfo.InvariantCulture)},v1=" +
        Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes($"{t}.{PathOf(teamId, source)}.{body}")));

    private static string PathOf(Guid teamId, string source) => $"/api/v1/webhooks/{source}?team={teamId}";

    private long Now => app.Clock.GetUtcNow().ToUnixTimeSeconds();

    private Task<HttpResponseMessage> PostAsync(Guid teamId, string body, string? signature, string source = "github", string contentType = "application/json")
    {
        var request = new HttpRequestMessage(HttpMethod.Post, PathOf(teamId, source))
        {
            Content = new ByteArrayContent(Encoding.UTF8.GetBytes(body)),
        };
        request.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        if (signature is not null)
        {
            request.Headers.TryAddWithoutValidation(Header, signature);
        }

        return app.CreateClient().SendAsync(request);
    }

    private Task<HttpResponseMessage> PostSignedAsync(Guid teamId, string secret, string body, string source = "github") =>
        PostAsync(teamId, body, Sign(secret, Now, body, teamId, source), source);

    private async Task<T> AsOwnerAsync<T>(TestTeam team, Func<WebhookSecretService, Task<T>> act)
    {
        await using var scope = app.Services.CreateAsyncScope();
        scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(team.Id, team.OwnerId, TeamRole.Owner);
        return await act(scope.ServiceProvider.GetRequiredService<WebhookSecretService>());
    }

    private async Task<(TestTeam Team, string Secret, ApiClient Reader)> NewTeamWithSecretAsync()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        var created = await AsOwnerAsync(team, s => s.CreateAsync());
        return (team, created.Secret, await ApiClient.ForTeamAsync(app, team.Id, ApiKeyScopes.Read));
    }

    private static async Task<int> CountAsync(ApiClient reader, string tag = "webhook:github") =>
        (await reader.GetJsonAsync($"/api/v1/traces?tag={Uri.EscapeDataString(tag)}&limit=200")).GetProperty("items").GetArrayLength();

    /// <summary>Asserts a 401 problem naming the header, and returns its detail.</summary>
    private static async Task<string> AssertRefusedAsync(HttpResponseMessage response, string? detailContains = null)
    {
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(problem.GetProperty("errors").TryGetProperty(Header, out _), problem.GetRawText());
        if (detailContains is not null)
        {
            Assert.Contains(detailContains, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }

        return problem.GetProperty("detail").GetString()!;
    }

    [Fact]
    public async Task ValidSignature_StoresTheTrace_TaggedWithItsSource_AndARetryStoresNothingTwice()
    {
        var (team, secret, reader) = await NewTeamWithSecretAsync();
        var body = Trace("hook-1");

        var response = await PostSignedAsync(team.Id, secret, body);

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var stored = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("created", stored.GetProperty("status").GetString());
        var trace = await reader.GetJsonAsync($"/api/v1/traces/{stored.GetProperty("id").GetGuid()}");
        Assert.Equal(["from-hook", "webhook:github"], trace.GetProperty("tags").EnumerateArray().Select(t => t.GetString()!).ToArray());
        Assert.Equal("gpt-4o-mini", trace.GetProperty("model").GetString());
        Assert.Equal("Where is my order?", trace.GetProperty("spans")[0].GetProperty("input").GetProperty("messages")[0].GetProperty("content").GetString());

        // The sender's retry (same external_id, signed again a second later): the stored trace, not a second one.
        app.Clock.Advance(TimeSpan.FromSeconds(1));
        var again = await PostSignedAsync(team.Id, secret, body);
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        Assert.Equal(stored.GetProperty("id").GetGuid(), (await again.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid());
        Assert.Equal(1, await CountAsync(reader));
    }

    [Fact]
    public async Task ValidSignature_OnAnArray_StoresEveryTrace()
    {
        var (team, secret, reader) = await NewTeamWithSecretAsync();
        var body = $"[{Trace("a-1")},{Trace("a-2")},{Trace()}]";

        var response = await PostSignedAsync(team.Id, secret, body, source: "zapier_prod-2");

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var items = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("items").EnumerateArray().ToList();
        Assert.Equal([0, 1, 2], items.Select(i => i.GetProperty("index").GetInt32()).ToArray());
        Assert.Equal(3, await CountAsync(reader, "webhook:zapier_prod-2"));
    }

    [Fact]
    public async Task AnArray_WithOneBadItem_StoresTheOthers_ListsTheSkip_AndLogsIt()
    {
        var (team, secret, reader) = await NewTeamWithSecretAsync();
        var body = $$"""[{{Trace("ok-1")}},{"external_id":"bad","user_input":"x","latency_ms":-5},{{Trace("ok-2")}}]""";

        var response = await PostSignedAsync(team.Id, secret, body);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var answer = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(["created", "skipped", "created"], answer.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("status").GetString()!).ToArray());
        Assert.Equal("[1].latency_ms", answer.GetProperty("items")[1].GetProperty("errors")[0].GetProperty("field").GetString());
        Assert.Equal(2, await CountAsync(reader));
        var issue = Assert.Single((await reader.GetJsonAsync("/api/v1/ingestion/issues")).GetProperty("items").EnumerateArray());
        Assert.Equal(("webhook", "refused", "latency_ms", "bad"), (issue.GetProperty("door").GetString(), issue.GetProperty("kind").GetString(),
            issue.GetProperty("field").GetString(), issue.GetProperty("trace_id").GetString()));
    }

    [Theory]
    [InlineData("""{"user_input": 42}""", "user_input")]
    [InlineData("""{"surprise": true}""", "surprise")]
    [InlineData("""{"usage": {"prompt_tokens": -1}}""", "usage.prompt_tokens")]
    [InlineData("""{"user_input": "x",""", "$")]
    [InlineData("""[]""", "$")]
    [InlineData("""[{"user_input": 42}, {"surprise": true}]""", "[1].surprise")]
    public async Task BadBody_Is400NamingTheField_AndStoresNothing(string body, string field)
    {
        var (team, secret, reader) = await NewTeamWithSecretAsync();

        var response = await PostSignedAsync(team.Id, secret, body);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        var fields = problem.GetProperty("errors").EnumerateObject().Select(p => p.Name).ToList();
        Assert.True(fields.Any(f => f.StartsWith(field, StringComparison.Ordinal)), $"expected '{field}' among [{string.Join(", ", fields)}]");
        Assert.Equal(0, (await reader.GetJsonAsync("/api/v1/traces")).GetProperty("items").GetArrayLength());
    }

    [Fact]
    public async Task ASignatureOffByOneByte_Is401_AndStoresNothing()
    {
        var (team, secret, reader) = await NewTeamWithSecretAsync();
        var body = Trace("tampered");
        var good = Sign(secret, Now, body, team.Id);
        var last = good[^1];
        var offByOne = good[..^1] + (last == '0' ? '1' : '0');

        await AssertRefusedAsync(await PostAsync(team.Id, body, offByOne), "does not match");
        // A right signature of another body: the body was changed on the way.
        await AssertRefusedAsync(await PostAsync(team.Id, body.Replace("shipped", "shipped!", StringComparison.Ordinal), good), "does not match");
        // The secret without its last character.
        await AssertRefusedAsync(await PostAsync(team.Id, body, Sign(secret[..^1], Now, body, team.Id)), "does not match");

        Assert.Equal(0, await CountAsync(reader));
        // The same delivery, correctly signed, is accepted: only the signature made the difference.
        Assert.Equal(HttpStatusCode.Created, (await PostAsync(team.Id, body, good)).StatusCode);
    }

    [Fact]
    public async Task AReplayedWebhook_SixMinutesOld_Is401TooOld_AndAFutureOne_Is401TooFarAhead()
    {
        var (team, secret, reader) = await NewTeamWithSecretAsync();
        var body = Trace("replayed");
        var signedThen = Sign(secret, Now, body, team.Id);

        app.Clock.Advance(TimeSpan.FromMinutes(6));
        await AssertRefusedAsync(await PostAsync(team.Id, body, signedThen), "too old");
        await AssertRefusedAsync(await PostAsync(team.Id, body, Sign(secret, Now + 360, body, team.Id)), "too far in the future");
        Assert.Equal(0, await CountAsync(reader));

        // Inside the window either way is fine (clocks drift a little).
        Assert.Equal(HttpStatusCode.Created, (await PostAsync(team.Id, body, Sign(secret, Now - 280, body, team.Id))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await PostAsync(team.Id, body, Sign(secret, Now + 280, body, team.Id))).StatusCode);
    }

    /// <summary>
    /// Issue 12: a copy of a delivery (same timestamp, path, body and signature) inside the window is refused; a retry the
    /// sender signs anew is answered as any retry. The signature covers the path: a delivery signed for one source or team
    /// is no good sent to another.
    /// </summary>
    [Fact]
    public async Task ACopiedDelivery_IsRefusedAsAReplay_AndASignatureIsBoundToItsPath()
    {
        var (team, secret, reader) = await NewTeamWithSecretAsync();
        var body = Trace("copied");
        var signed = Sign(secret, Now, body, team.Id);

        Assert.Equal(HttpStatusCode.Created, (await PostAsync(team.Id, body, signed)).StatusCode);
        var copy = await PostAsync(team.Id, body, signed);
        Assert.Equal(HttpStatusCode.Conflict, copy.StatusCode);
        Assert.Contains("already received", await copy.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        app.Clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(HttpStatusCode.OK, (await PostAsync(team.Id, body, Sign(secret, Now, body, team.Id))).StatusCode);

        // Signed for "github", sent to "zendesk": the path is part of what is signed.
        var other = Trace("elsewhere");
        await AssertRefusedAsync(await PostAsync(team.Id, other, Sign(secret, Now, other, team.Id, "github"), source: "zendesk"), "does not match");
        Assert.Equal(1, await CountAsync(reader));
    }

    [Theory]
    [InlineData(null, "Missing")]
    [InlineData("", "Missing")]
    [InlineData("sha256=abc", "Malformed")]
    [InlineData("t=1700000000", "Malformed")]
    [InlineData("v1=0000000000000000000000000000000000000000000000000000000000000000", "Malformed")]
    [InlineData("t=soon,v1=0000000000000000000000000000000000000000000000000000000000000000", "Malformed")]
    [InlineData("t=1700000000,v1=not-hex", "Malformed")]
    public async Task AMissingOrMalformedHeader_Is401NamingIt(string? header, string detail)
    {
        var (team, _, reader) = await NewTeamWithSecretAsync();

        await AssertRefusedAsync(await PostAsync(team.Id, Trace(), header), detail);
        Assert.Equal(0, await CountAsync(reader));
    }

    [Fact]
    public async Task SecretRotation_AcceptsOldAndNew_ThenRefusesTheOld_AfterTheGracePeriod_OrWhenExpired()
    {
        var (team, first, reader) = await NewTeamWithSecretAsync();
        var second = (await AsOwnerAsync(team, s => s.RotateAsync())).Secret;
        Assert.NotEqual(first, second);

        Assert.Equal(HttpStatusCode.Created, (await PostSignedAsync(team.Id, first, Trace("old-1"))).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await PostSignedAsync(team.Id, second, Trace("new-1"))).StatusCode);
        var listed = await AsOwnerAsync(team, s => s.ListAsync());
        Assert.Equal([true, false], listed.Select(s => s.IsCurrent).ToArray());
        Assert.Equal(second[^4..], listed[0].Hint);

        app.Clock.Advance(WebhookSecretService.RotationGrace - TimeSpan.FromMinutes(1));
        Assert.Equal(HttpStatusCode.Created, (await PostSignedAsync(team.Id, first, Trace("old-2"))).StatusCode);
        app.Clock.Advance(TimeSpan.FromMinutes(2));
        await AssertRefusedAsync(await PostSignedAsync(team.Id, first, Trace("old-3")), "does not match");
        Assert.Equal(HttpStatusCode.Created, (await PostSignedAsync(team.Id, second, Trace("new-2"))).StatusCode);

        // Rotating again and expiring the previous secret at once: only the newest works.
        var third = (await AsOwnerAsync(team, s => s.RotateAsync())).Secret;
        var previous = (await AsOwnerAsync(team, s => s.ListAsync())).Single(s => !s.IsCurrent);
        await AsOwnerAsync(team, s => s.ExpireAsync(previous.Id));
        await AssertRefusedAsync(await PostSignedAsync(team.Id, second, Trace("new-3")), "does not match");
        Assert.Equal(HttpStatusCode.Created, (await PostSignedAsync(team.Id, third, Trace("third-1"))).StatusCode);
        Assert.Equal(["new-1", "new-2", "old-1", "old-2", "third-1"],
            (await reader.GetJsonAsync("/api/v1/traces?tag=webhook:github")).GetProperty("items").EnumerateArray()
                .Select(i => i.GetProperty("external_id").GetString()!).Order(StringComparer.Ordinal).ToArray());
    }

    [Fact]
    public async Task Rotating_KeepsAtMostTwoSecretsActive_AndCreatingTwiceIsAConflict()
    {
        var (team, first, _) = await NewTeamWithSecretAsync();
        await Assert.ThrowsAsync<ConflictException>(() => AsOwnerAsync(team, s => s.CreateAsync()));

        await AsOwnerAsync(team, s => s.RotateAsync());
        var third = (await AsOwnerAsync(team, s => s.RotateAsync())).Secret;

        Assert.Equal(2, (await AsOwnerAsync(team, s => s.ListAsync())).Count);
        await AssertRefusedAsync(await PostSignedAsync(team.Id, first, Trace()), "does not match");
        Assert.Equal(HttpStatusCode.Created, (await PostSignedAsync(team.Id, third, Trace())).StatusCode);
    }

    [Fact]
    public async Task AnotherTeamsSecret_CannotPostIntoThisTeam_AndUnknownTeamsLookTheSame()
    {
        var (mine, _, myReader) = await NewTeamWithSecretAsync();
        var (other, otherSecret, otherReader) = await NewTeamWithSecretAsync();
        var withoutWebhooks = await TestData.CreateTeamAsync(app.Services);
        var body = Trace("cross");

        var crossTeam = await PostSignedAsync(mine.Id, otherSecret, body);
        var unknownTeam = await PostSignedAsync(Guid.NewGuid(), otherSecret, body);
        var noSecret = await PostSignedAsync(withoutWebhooks.Id, otherSecret, body);

        // No difference an outsider could use to learn which teams exist or have webhooks.
        string[] details = [await AssertRefusedAsync(crossTeam), await AssertRefusedAsync(unknownTeam), await AssertRefusedAsync(noSecret)];
        Assert.Single(details.Distinct());
        Assert.Equal(0, await CountAsync(myReader));
        Assert.Equal(0, await CountAsync(otherReader));
        // Nor does the body's content type or size: checked the same way for every team id.
        var asText = await Task.WhenAll(new[] { mine.Id, Guid.NewGuid(), withoutWebhooks.Id }.Select(id => PostAsync(id, body, Sign(otherSecret, Now, body, id), contentType: "text/plain")));
        Assert.All(asText, r => Assert.Equal(HttpStatusCode.UnsupportedMediaType, r.StatusCode));
        // The other team's own URL takes it, into the other team only.
        Assert.Equal(HttpStatusCode.Created, (await PostSignedAsync(other.Id, otherSecret, body)).StatusCode);
        Assert.Equal(1, await CountAsync(otherReader));
        Assert.Equal(0, await CountAsync(myReader));
    }

    [Fact]
    public async Task Secrets_AreStoredEncrypted()
    {
        var (team, secret, _) = await NewTeamWithSecretAsync();
        var randomPart = secret["whsec_".Length..];

        await using var scope = app.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<EvalDbContext>();
        var connection = db.Database.GetDbConnection();
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT \"ProtectedSecret\", \"Hint\" FROM webhook_secrets";
        var stored = new List<string>();
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                stored.Add($"{reader.GetString(0)} {reader.GetString(1)}");
            }
        }

        Assert.NotEmpty(stored);
        Assert.All(stored, row => Assert.DoesNotContain(randomPart, row, StringComparison.Ordinal));
        Assert.All(stored, row => Assert.DoesNotContain(randomPart[..12], row, StringComparison.Ordinal));
        // What is stored is the Data Protection output for this team: it opens to the secret, and only for this team.
        var raw = await db.WebhookSecrets.IgnoreQueryFilters().Where(s => s.TeamId == team.Id).Select(s => s.ProtectedSecret).SingleAsync();
        var protector = scope.ServiceProvider.GetRequiredService<IWebhookSecretProtector>();
        Assert.Equal(secret, protector.Unprotect(team.Id, raw));
        Assert.ThrowsAny<CryptographicException>(() => protector.Unprotect(Guid.NewGuid(), raw));
    }

    [Fact]
    public async Task BadSourceOrTeam_Is400NamingIt_WrongContentType_Is415_AndTooBig_Is413()
    {
        var (team, secret, reader) = await NewTeamWithSecretAsync();
        var body = Trace();

        var badSource = await PostAsync(team.Id, body, Sign(secret, Now, body, team.Id), source: "GitHub");
        Assert.Equal(HttpStatusCode.BadRequest, badSource.StatusCode);
        Assert.True((await badSource.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").TryGetProperty("source", out _));
        var tooLong = await PostAsync(team.Id, body, Sign(secret, Now, body, team.Id), source: new string('a', 65));
        Assert.Equal(HttpStatusCode.BadRequest, tooLong.StatusCode);
        var noTeam = await app.CreateClient().PostAsync("/api/v1/webhooks/github", new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, noTeam.StatusCode);
        Assert.True((await noTeam.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").TryGetProperty("team", out _));

        var text = await PostAsync(team.Id, body, Sign(secret, Now, body, team.Id), contentType: "text/plain");
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, text.StatusCode);

        var huge = "[" + Trace() + ",{\"user_input\":\"" + new string('x', 11 * 1024 * 1024) + "\"}]";
        var tooBig = await PostAsync(team.Id, huge, Sign(secret, Now, huge, team.Id));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, tooBig.StatusCode);
        Assert.Equal("application/problem+json", tooBig.Content.Headers.ContentType?.MediaType);
        Assert.Equal(0, (await reader.GetJsonAsync("/api/v1/traces")).GetProperty("items").GetArrayLength());
    }

    [Fact]
    public async Task OnlyAdminsAndOwners_ManageSecrets_InTheService()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        var (reviewerId, _) = await TestData.CreateMemberAsync(app.Services, team.Id, TeamRole.Reviewer);
        var (adminId, _) = await TestData.CreateMemberAsync(app.Services, team.Id, TeamRole.Admin);

        await using (var scope = app.Services.CreateAsyncScope())
        {
            scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(team.Id, reviewerId, TeamRole.Reviewer);
            var service = scope.ServiceProvider.GetRequiredService<WebhookSecretService>();
            await Assert.ThrowsAsync<PermissionDeniedException>(() => service.CreateAsync());
            await Assert.ThrowsAsync<PermissionDeniedException>(() => service.ListAsync());
        }

        await using (var scope = app.Services.CreateAsyncScope())
        {
            scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(team.Id, adminId, TeamRole.Admin);
            Assert.StartsWith("whsec_", (await scope.ServiceProvider.GetRequiredService<WebhookSecretService>().CreateAsync()).Secret, StringComparison.Ordinal);
        }
    }
}

public sealed class WebhookPostgresTests(ClockedPostgresAppFactory app) : WebhookTests(app), IClassFixture<ClockedPostgresAppFactory>;

public sealed class WebhookSqliteTests(ClockedSqliteAppFactory app) : WebhookTests(app), IClassFixture<ClockedSqliteAppFactory>;
