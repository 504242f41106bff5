using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using EvalPlatform.Core.Teams;
using EvalPlatform.Tests.Infrastructure;
using EvalPlatform.Web.Auth;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace EvalPlatform.Tests.Integration.Teams;

/// <summary>Every API route's policy names a <see cref="Permission"/>, and the permission table alone decides who passes.</summary>
public sealed class ApiPermissionPolicyTests(PostgresAppFactory app) : IClassFixture<PostgresAppFactory>
{
    /// <summary>Where API keys are the credential (the app's API, OTLP, LangSmith's and the recording proxy's paths).</summary>
    public static bool IsKeyRoute(string pattern) =>
        pattern.StartsWith("/api/", StringComparison.Ordinal) || pattern.StartsWith("/v1/", StringComparison.Ordinal) ||
        pattern.StartsWith("/proxy/", StringComparison.Ordinal);

    [Fact]
    public void EveryKeyRoute_NeedsAPermission_OrIsAnonymousOrWhoAmI()
    {
        var routes = app.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(e => e.RoutePattern.RawText is { } raw && IsKeyRoute("/" + raw.TrimStart('/')))
            .Where(e => !(e.RoutePattern.RawText ?? "").Contains("openapi", StringComparison.Ordinal) && !(e.RoutePattern.RawText ?? "").Contains("/api/reference", StringComparison.Ordinal))
            .ToList();
        Assert.True(routes.Count > 60, $"found only {routes.Count} API routes");

        var problems = new List<string>();
        foreach (var route in routes)
        {
            var name = $"{string.Join(',', route.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? [])} {route.RoutePattern.RawText}";
            if (route.Metadata.GetMetadata<IAllowAnonymous>() is not null || route.RoutePattern.RawText!.EndsWith("/whoami", StringComparison.Ordinal))
            {
                continue;
            }

            var named = route.Metadata.GetOrderedMetadata<IAuthorizeData>().Select(a => a.Policy).Where(p => p is not null && p != ApiPolicies.AnyKey).ToList();
            var inline = route.Metadata.OfType<AuthorizationPolicy>().SelectMany(p => p.Requirements).OfType<ApiPermissionRequirement>().ToList();
            if (named.Count + inline.Count == 0)
            {
                problems.Add($"{name} needs no permission");
            }

            problems.AddRange(named.Where(p => !Enum.GetValues<Permission>().Any(permission => ApiPolicies.For(permission) == p)).Select(p => $"{name} uses policy '{p}'"));
        }

        Assert.Empty(problems);
    }

    [Fact]
    public async Task AnAdminKey_ViewsTraces_AsTheTableSays()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        using var admin = await ApiClient.ForTeamAsync(app, team.Id, ApiKeyScopes.Admin);

        Assert.True(TeamPermissions.ScopesHave(ApiKeyScopes.Admin, Permission.ViewTraces));
        foreach (var url in new[] { "/api/v1/traces", "/api/v1/queues", "/api/v1/ingestion/issues", "/api/v1/traces/export?format=jsonl" })
        {
            var response = await admin.Http.GetAsync(url);
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{url}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }
    }

    [Theory]
    [InlineData(ApiKeyScopes.Ingest, "/api/v1/traces", "'read', 'admin'")]
    [InlineData(ApiKeyScopes.Review, "/api/v1/queues", "'read', 'admin'")]
    [InlineData(ApiKeyScopes.Read, "/api/v1/audit-log", "'admin'")]
    [InlineData(ApiKeyScopes.Read | ApiKeyScopes.Ingest | ApiKeyScopes.Review, "/api/v1/members", "'admin'")]
    public async Task AKeyWithoutThePermission_Is403_NamingTheScopesThatGrantIt(ApiKeyScopes scopes, string url, string named)
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        using var client = await ApiClient.ForTeamAsync(app, team.Id, scopes);

        var response = await client.Http.GetAsync(url);

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Contains(named, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }
}
