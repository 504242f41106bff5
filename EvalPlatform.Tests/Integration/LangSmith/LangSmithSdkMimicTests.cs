using System.Diagnostics;
using System.Text.Json;
using EvalPlatform.Core.Teams;
using EvalPlatform.Tests.Infrastructure;

namespace EvalPlatform.Tests.Integration.LangSmith;

/// <summary>
/// A Python script (standard library only) that talks to a real port as the LangSmith SDK's background
/// thread does: /info, multipart batches, a patch batch, a retried batch (409). The closest we get to the
/// real SDK without its package.
/// </summary>
public abstract class LangSmithSdkMimicTests(EvalAppFactory app)
{
    [Fact]
    public async Task PythonSdkMimic_SendsATrace_ThatAssemblesWithChatFunctionsAndMetadata()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        var key = await TestData.CreateKeyAsync(app.Services, team.Id, ApiKeyScopes.Ingest);
        var start = new ProcessStartInfo("python3", Path.Combine(AppContext.BaseDirectory, "Integration", "LangSmith", "sdk_wire.py"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["LANGSMITH_ENDPOINT"] = new Uri(app.ServerAddress, "/api/langsmith").ToString();
        start.Environment["LANGSMITH_API_KEY"] = key.Key;
        using var python = Process.Start(start)!;
        var stdout = python.StandardOutput.ReadToEndAsync();
        var stderr = python.StandardError.ReadToEndAsync();
        await python.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        Assert.True(python.ExitCode == 0, $"python exited {python.ExitCode}: {await stderr}");
        var rootId = (await stdout).Trim();

        using var reader = await ApiClient.ForTeamAsync(app, team.Id, ApiKeyScopes.Read);
        var item = (await reader.GetJsonAsync("/api/v1/traces")).GetProperty("items").EnumerateArray().Single();
        Assert.Equal(rootId, item.GetProperty("external_id").GetString());
        var trace = await reader.GetJsonAsync($"/api/v1/traces/{item.GetProperty("id").GetString()}");
        var spans = trace.GetProperty("spans").EnumerateArray().ToList();
        Assert.Equal(["chain", "llm", "tool"], spans.Select(s => s.GetProperty("kind").GetString()!).ToArray());
        var llm = spans[1];
        Assert.Equal("Where is order 42?", llm.GetProperty("input").GetProperty("messages")[1].GetProperty("content").GetString());
        Assert.Equal("lookup_order", llm.GetProperty("output").GetProperty("tool_calls")[0].GetProperty("function").GetProperty("name").GetString());
        Assert.Equal(42, spans[2].GetProperty("input").GetProperty("order_id").GetInt32());
        Assert.Equal("shipped", spans[2].GetProperty("output").GetProperty("status").GetString());
        Assert.Equal("gpt-4o-mini", trace.GetProperty("model").GetString());
        Assert.Equal(43, trace.GetProperty("total_tokens").GetInt32());
        Assert.Equal("mimic-thread", trace.GetProperty("session_id").GetString());
        Assert.Contains("project:sdk-mimic", trace.GetProperty("tags").EnumerateArray().Select(t => t.GetString()));
        Assert.Equal(1000, trace.GetProperty("latency_ms").GetDouble(), 1);
        Assert.Equal(JsonValueKind.String, trace.GetProperty("end_time").ValueKind);
    }
}

public sealed class LangSmithSdkMimicPostgresTests(LangSmithKestrelPostgresFactory app) : LangSmithSdkMimicTests(app), IClassFixture<LangSmithKestrelPostgresFactory>;

public sealed class LangSmithSdkMimicSqliteTests(LangSmithKestrelSqliteFactory app) : LangSmithSdkMimicTests(app), IClassFixture<LangSmithKestrelSqliteFactory>;

public sealed class LangSmithKestrelPostgresFactory() : EvalAppFactory(TestDatabase.Postgres, kestrel: true);

public sealed class LangSmithKestrelSqliteFactory() : EvalAppFactory(TestDatabase.Sqlite, kestrel: true);
