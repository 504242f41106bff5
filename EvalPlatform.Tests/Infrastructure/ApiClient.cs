using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using EvalPlatform.Core.Teams;
using Microsoft.AspNetCore.Mvc.Testing;

namespace EvalPlatform.Tests.Infrastructure;

/// <summary>An HTTP client of the app holding a team's API key, with JSON helpers.</summary>
public sealed class ApiClient(HttpClient http) : IDisposable
{
    public HttpClient Http => http;

    public static async Task<(ApiClient Client, TestTeam Team)> ForNewTeamAsync<T>(WebApplicationFactory<T> app, ApiKeyScopes scopes = ApiKeyScopes.Ingest | ApiKeyScopes.Read)
        where T : class
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        return (await ForTeamAsync(app, team.Id, scopes), team);
    }

    public static async Task<ApiClient> ForTeamAsync<T>(WebApplicationFactory<T> app, Guid teamId, ApiKeyScopes scopes)
        where T : class
    {
        var key = await TestData.CreateKeyAsync(app.Services, teamId, scopes);
        var http = app.CreateClient();
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key.Key);
        return new ApiClient(http);
    }

    public Task<HttpResponseMessage> PostJsonAsync(string url, object body) =>
        http.PostAsync(url, new StringContent(body as string ?? JsonSerializer.Serialize(body), Encoding.UTF8, "application/json"));

    public Task<HttpResponseMessage> PutJsonAsync(string url, object body) =>
        http.PutAsync(url, new StringContent(body as string ?? JsonSerializer.Serialize(body), Encoding.UTF8, "application/json"));

    public Task<HttpResponseMessage> PatchJsonAsync(string url, object body) =>
        http.PatchAsync(url, new StringContent(body as string ?? JsonSerializer.Serialize(body), Encoding.UTF8, "application/json"));

    public async Task<JsonElement> GetJsonAsync(string url)
    {
        var response = await http.GetAsync(url);
        Assert.True(response.IsSuccessStatusCode, $"GET {url}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    /// <summary>Posts one trace and returns its id, asserting 201.</summary>
    public async Task<Guid> PostTraceAsync(object trace)
    {
        var response = await PostJsonAsync("/api/v1/traces", trace);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == System.Net.HttpStatusCode.Created, $"{(int)response.StatusCode}: {body}");
        return JsonNode.Parse(body)!["id"]!.GetValue<Guid>();
    }

    public void Dispose() => http.Dispose();
}
