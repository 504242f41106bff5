using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using EvalPlatform.Tests.Infrastructure;

namespace EvalPlatform.Tests.Integration.Hosting;

public sealed class HealthPostgresRedisTests(PostgresAppFactory app) : IClassFixture<PostgresAppFactory>
{
    [Fact]
    public async Task Ready_ChecksTheDatabaseAndRedis()
    {
        using var client = app.CreateClient();
        var body = await client.GetFromJsonAsync<JsonElement>("/health/ready");

        Assert.Equal("Healthy", body.GetProperty("status").GetString());
        Assert.Equal("Healthy", body.GetProperty("checks").GetProperty("database").GetProperty("status").GetString());
        Assert.Equal("Healthy", body.GetProperty("checks").GetProperty("redis").GetProperty("status").GetString());
    }

    [Fact]
    public async Task Live_AnswersWithoutCheckingDependencies()
    {
        using var client = app.CreateClient();
        var response = await client.GetAsync("/health/live");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Empty(body.GetProperty("checks").EnumerateObject());
    }

    [Fact]
    public async Task OpenApiDocument_ListsTheApi()
    {
        using var client = app.CreateClient();
        var doc = await client.GetFromJsonAsync<JsonElement>("/openapi/v1.json");

        Assert.True(doc.GetProperty("paths").TryGetProperty("/api/v1/whoami", out _));
        Assert.True(doc.GetProperty("paths").TryGetProperty("/api/v1/traces/batch", out _));
        Assert.Equal("EvalPlatform API", doc.GetProperty("info").GetProperty("title").GetString());
    }

    [Fact]
    public async Task ApiReferencePage_IsServedWithItsScript()
    {
        using var client = app.CreateClient();
        var page = await client.GetStringAsync("/api/reference/");
        Assert.Contains("scalar.js", page, StringComparison.Ordinal);
        var script = await client.GetAsync("/api/reference/scalar.js");
        Assert.Equal(HttpStatusCode.OK, script.StatusCode);
    }
}

public sealed class HealthSqliteTests(SqliteAppFactory app) : IClassFixture<SqliteAppFactory>
{
    [Fact]
    public async Task Ready_ChecksTheDatabase_AndNoRedisWhenNoneIsConfigured()
    {
        using var client = app.CreateClient();
        var body = await client.GetFromJsonAsync<JsonElement>("/health/ready");

        Assert.Equal("Healthy", body.GetProperty("status").GetString());
        Assert.True(body.GetProperty("checks").TryGetProperty("database", out _));
        Assert.False(body.GetProperty("checks").TryGetProperty("redis", out _));
    }
}
