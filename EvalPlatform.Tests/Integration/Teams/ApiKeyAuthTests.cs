using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace EvalPlatform.Tests.Integration.Teams;

/// <summary>API key authentication through the real pipeline, on each database.</summary>
public abstract class ApiKeyAuthTests(EvalAppFactory app)
{
    [Fact]
    public async Task WhoAmI_WithBearerKey_ReturnsTheKeysTeamAndScopes()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        var key = await TestData.CreateKeyAsync(app.Services, team.Id, ApiKeyScopes.Ingest | ApiKeyScopes.Read);

        using var client = app.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key.Key);
        var body = await client.GetFromJsonAsync<JsonElement>("/api/v1/whoami");

        Assert.Equal(team.Id, body.GetProperty("team_id").GetGuid());
        Assert.Equal(team.Name, body.GetProperty("team_name").GetString());
        Assert.Equal(key.Info.Id, body.GetProperty("api_key_id").GetGuid());
        Assert.Equal(["ingest", "read"], body.GetProperty("scopes").EnumerateArray().Select(s => s.GetString()!).ToArray());
    }

    [Fact]
    public async Task WhoAmI_WithXApiKeyHeader_Authenticates()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        var key = await TestData.CreateKeyAsync(app.Services, team.Id, ApiKeyScopes.Ingest);

        using var client = app.CreateClient();
        client.DefaultRequestHeaders.Add("x-api-key", key.Key);
        var response = await client.GetAsync("/api/v1/whoami");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Theory]
    [InlineData(null, "Send an API key")]
    [InlineData("not-a-key", "Unknown API key")]
    [InlineData("ep_0123456789ab_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "Unknown API key")]
    public async Task WhoAmI_WithoutAValidKey_Is401ProblemDetails(string? presented, string expectedDetail)
    {
        using var client = app.CreateClient();
        if (presented is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", presented);
        }

        var response = await client.GetAsync("/api/v1/whoami");

        await AssertProblemAsync(response, HttpStatusCode.Unauthorized, expectedDetail);
    }

    [Fact]
    public async Task WhoAmI_WithAKeyWhoseSecretIsWrong_Is401()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        var key = await TestData.CreateKeyAsync(app.Services, team.Id, ApiKeyScopes.Read);
        var tampered = key.Key[..^1] + (key.Key[^1] == 'A' ? 'B' : 'A');

        using var client = app.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", tampered);

        await AssertProblemAsync(await client.GetAsync("/api/v1/whoami"), HttpStatusCode.Unauthorized, "Unknown API key");
    }

    [Fact]
    public async Task RevokedKey_Is401SayingRevoked_AtOnce_EvenWhenItWasJustUsed()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        var key = await TestData.CreateKeyAsync(app.Services, team.Id, ApiKeyScopes.Read);
        using (var before = app.CreateClient())
        {
            // The key is now in the node's key cache.
            before.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key.Key);
            Assert.Equal(HttpStatusCode.OK, (await before.GetAsync("/api/v1/whoami")).StatusCode);
        }

        await using (var scope = app.Services.CreateAsyncScope())
        {
            scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(team.Id, team.OwnerId, TeamRole.Owner);
            await scope.ServiceProvider.GetRequiredService<ApiKeyService>().RevokeAsync(key.Info.Id);
        }

        using var client = app.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key.Key);

        await AssertProblemAsync(await client.GetAsync("/api/v1/whoami"), HttpStatusCode.Unauthorized, "revoked");
    }

    [Fact]
    public async Task KeyWithoutAdminScope_ListingKeys_Is403NamingTheScope()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        var key = await TestData.CreateKeyAsync(app.Services, team.Id, ApiKeyScopes.Ingest | ApiKeyScopes.Read);

        using var client = app.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key.Key);

        await AssertProblemAsync(await client.GetAsync("/api/v1/api-keys"), HttpStatusCode.Forbidden, "'admin' scope");
    }

    [Fact]
    public async Task AdminKey_ListsOnlyItsOwnTeamsKeys()
    {
        var teamA = await TestData.CreateTeamAsync(app.Services);
        var teamB = await TestData.CreateKeyTeamPairAsync(app.Services);
        var adminA = await TestData.CreateKeyAsync(app.Services, teamA.Id, ApiKeyScopes.Admin, "a-admin");
        await TestData.CreateKeyAsync(app.Services, teamA.Id, ApiKeyScopes.Ingest, "a-ingest");

        using var client = app.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", adminA.Key);
        var keys = await client.GetFromJsonAsync<JsonElement>("/api/v1/api-keys");

        var names = keys.EnumerateArray().Select(k => k.GetProperty("name").GetString()!).Order().ToArray();
        Assert.Equal(["a-admin", "a-ingest"], names);
        Assert.DoesNotContain(teamB.Key.Info.Prefix, keys.GetRawText(), StringComparison.Ordinal);
        // Only the prefix is ever returned, never the key or its hash.
        Assert.DoesNotContain(adminA.Key, keys.GetRawText(), StringComparison.Ordinal);
        Assert.DoesNotContain("hash", keys.GetRawText(), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task UsingAKey_RecordsItsLastUsedTime()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        var key = await TestData.CreateKeyAsync(app.Services, team.Id, ApiKeyScopes.Read);
        Assert.Null(key.Info.LastUsedAt);

        using var client = app.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key.Key);
        (await client.GetAsync("/api/v1/whoami")).EnsureSuccessStatusCode();

        await using var scope = app.Services.CreateAsyncScope();
        scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(team.Id, team.OwnerId, TeamRole.Owner);
        var listed = await scope.ServiceProvider.GetRequiredService<ApiKeyService>().ListAsync();
        Assert.NotNull(Assert.Single(listed).LastUsedAt);
    }

    internal static async Task AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status, string detailContains)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal((int)status, problem.GetProperty("status").GetInt32());
        Assert.Contains(detailContains, problem.GetProperty("detail").GetString(), StringComparison.OrdinalIgnoreCase);
    }
}

public sealed class ApiKeyAuthPostgresTests(PostgresAppFactory app) : ApiKeyAuthTests(app), IClassFixture<PostgresAppFactory>;

public sealed class ApiKeyAuthSqliteTests(SqliteAppFactory app) : ApiKeyAuthTests(app), IClassFixture<SqliteAppFactory>;
