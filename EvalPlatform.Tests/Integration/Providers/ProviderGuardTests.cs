using System.Net;
using System.Text.Json;
using EvalPlatform.Core.Providers;
using EvalPlatform.Core.Teams;
using EvalPlatform.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace EvalPlatform.Tests.Integration.Providers;

/// <summary>The fakes on loopback with private targets not allowed (the default): no provider call reaches them.</summary>
public sealed class GuardedProviderAppFactory() : ProviderAppFactory(TestDatabase.Sqlite, redis: false)
{
    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.UseSetting("Outbound:AllowPrivateTargets", "false");
    }
}

public sealed class ProviderGuardTests(GuardedProviderAppFactory app) : IClassFixture<GuardedProviderAppFactory>
{
    [Fact]
    public async Task ALoopbackBaseUrl_IsRefusedWhenSaved_AndAStoredOneIsRefusedAtConnect()
    {
        var (admin, team) = await ApiClient.ForNewTeamAsync(app, ApiKeyScopes.Admin);
        using var _admin = admin;
        var response = await admin.PostJsonAsync("/api/v1/providers", new { kind = "openai_compatible", name = "local", base_url = app.OpenAi.BaseUrl, api_key = FakeOpenAiServer.Key });
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, body);
        Assert.True(JsonDocument.Parse(body).RootElement.GetProperty("errors").TryGetProperty("base_url", out _), body);

        // A row that got in before the operator turned private targets off (or a name that now resolves inside).
        var stored = await app.AddConnectionAsync(team, ProviderKind.OpenAiCompatible, "stored", app.OpenAi.BaseUrl, FakeOpenAiServer.Key, app.Clock.GetUtcNow());
        await using var scope = app.ScopeFor(team);
        var provider = (await scope.ServiceProvider.GetRequiredService<IProviderConnections>().FindAsync(stored.Id, default))!;
        var refused = await Assert.ThrowsAsync<LlmCallException>(() =>
            scope.ServiceProvider.GetRequiredService<ILlmChat>().CompleteAsync(provider, new LlmChatRequest("gpt-4o", null, [new("user", "hi")]), default));
        Assert.Null(refused.Status);
        Assert.Contains("AllowPrivateTargets", refused.Message, StringComparison.Ordinal);
        Assert.Empty(app.OpenAi.Requests);
    }
}
