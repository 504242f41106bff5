using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using EvalPlatform.Tests.Infrastructure;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace EvalPlatform.Tests.Integration.Traces;

/// <summary>
/// "201 means committed", tested by killing the app (SIGKILL, no shutdown) while requests are in
/// flight: every trace that was acknowledged is in the database with the id it was given, and
/// sending everything again after a restart stores each trace exactly once.
/// </summary>
public abstract class CrashDurabilityTests
{
    private const int Workers = 8;
    private const int AcknowledgedBeforeKill = 200;

    protected abstract Task<Dictionary<string, string>> CreateDatabaseAsync();

    protected abstract Task<Dictionary<string, Guid>> ReadStoredAsync(Dictionary<string, string> environment);

    [Fact]
    public async Task EveryAcknowledgedTrace_SurvivesAKill_AndRetriesAfterRestartStoreEachOnce()
    {
        var environment = await CreateDatabaseAsync();
        var key = await CreateKeyAsync(environment);
        var acknowledged = new ConcurrentDictionary<string, Guid>();
        var attempted = new ConcurrentDictionary<string, object>();

        await using (var server = await ServerProcess.StartAsync(environment))
        {
            using var http = Client(server, key);
            using var enough = new CancellationTokenSource();
            var workers = Enumerable.Range(0, Workers).Select(w => Task.Run(async () =>
            {
                // Until the kill: requests keep flying while the process dies.
                for (var n = 0; ; n++)
                {
                    // Singles and small batches, so both paths are in flight at the kill.
                    var traces = Enumerable.Range(0, n % 3 == 0 ? 5 : 1).Select(i => Trace($"crash-{w}-{n}-{i}")).ToList();
                    foreach (var trace in traces)
                    {
                        attempted[trace.ExternalId] = trace.Body;
                    }

                    try
                    {
                        await SendAsync(http, traces, acknowledged);
                    }
                    catch (HttpRequestException)
                    {
                        return; // the server is gone
                    }
                    catch (TaskCanceledException)
                    {
                        return;
                    }

                    if (acknowledged.Count >= AcknowledgedBeforeKill)
                    {
                        enough.Cancel();
                    }
                }
            })).ToList();

            var all = Task.WhenAll(workers);
            await Task.WhenAny(enough.Token.WhenCanceledAsync(TimeSpan.FromSeconds(60)), all);
            Assert.True(enough.IsCancellationRequested || !all.IsCompleted,
                $"The workers stopped after {acknowledged.Count} acknowledged traces: {all.Exception?.GetBaseException().Message}\n{server.Output}");
            await server.KillAsync();
            await Task.WhenAll(workers).WaitAsync(TimeSpan.FromSeconds(30));
        }

        var stored = await ReadStoredAsync(environment);
        Assert.True(acknowledged.Count >= AcknowledgedBeforeKill);
        Assert.All(acknowledged, a => Assert.Equal(a.Value, Assert.Contains(a.Key, stored)));

        // After a restart, the client retries everything it ever sent: nothing is stored twice,
        // and each acknowledged trace answers with the id it was first given.
        await using (var server = await ServerProcess.StartAsync(environment))
        {
            using var http = Client(server, key);
            foreach (var chunk in attempted.Keys.Order(StringComparer.Ordinal).Chunk(100))
            {
                var retried = new ConcurrentDictionary<string, Guid>();
                await SendAsync(http, chunk.Select(id => (id, attempted[id])).ToList(), retried);
                Assert.All(chunk, id => Assert.True(!acknowledged.TryGetValue(id, out var first) || retried[id] == first, id));
            }
        }

        stored = await ReadStoredAsync(environment);
        Assert.Equal(attempted.Count, stored.Count);
    }

    private static async Task SendAsync(HttpClient http, IReadOnlyList<(string ExternalId, object Body)> traces, ConcurrentDictionary<string, Guid> acknowledged)
    {
        using var response = traces.Count == 1
            ? await http.PostAsJsonAsync("/api/v1/traces", traces[0].Body)
            : await http.PostAsJsonAsync("/api/v1/traces/batch", new { traces = traces.Select(t => t.Body) });
        Assert.True(response.StatusCode is HttpStatusCode.Created or HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var items = traces.Count == 1 ? [json.RootElement] : json.RootElement.GetProperty("items").EnumerateArray().ToList();
        foreach (var item in items)
        {
            acknowledged[item.GetProperty("external_id").GetString()!] = item.GetProperty("id").GetGuid();
        }
    }

    private static (string ExternalId, object Body) Trace(string externalId) =>
        (externalId, new { external_id = externalId, user_input = $"question {externalId}", response = "answer", model = "gpt-4o-mini", function_calls = new[] { new { name = "lookup", parameters = new { q = externalId }, result = "found" } } });

    private static HttpClient Client(ServerProcess server, string key)
    {
        var http = new HttpClient { BaseAddress = server.Address, Timeout = TimeSpan.FromSeconds(30) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return http;
    }

    private static async Task<string> CreateKeyAsync(Dictionary<string, string> environment)
    {
        var team = TestData.Unique("crash");
        var migrated = await AppProcess.RunAsync(["admin", "migrate"], environment);
        Assert.True(migrated.ExitCode == 0, migrated.Stderr);
        var created = await AppProcess.RunAsync(
            ["admin", "create-team", "--name", team, "--owner", $"{team}@example.test", "--password-stdin"], environment, stdin: TestData.Password);
        Assert.True(created.ExitCode == 0, created.Stderr);
        var key = await AppProcess.RunAsync(["admin", "create-api-key", "--team", team, "--name", "crash", "--scopes", "ingest,read"], environment);
        Assert.True(key.ExitCode == 0, key.Stderr);
        return key.Stdout.Trim();
    }
}

public sealed class CrashDurabilityPostgresTests : CrashDurabilityTests, IAsyncLifetime
{
    private PostgresTestDatabase? _database;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_database is not null)
        {
            await _database.DisposeAsync();
        }
    }

    protected override async Task<Dictionary<string, string>> CreateDatabaseAsync()
    {
        _database = await PostgresTestDatabase.CreateAsync();
        return new() { ["ConnectionStrings__Postgres"] = _database.ConnectionString };
    }

    protected override async Task<Dictionary<string, Guid>> ReadStoredAsync(Dictionary<string, string> environment)
    {
        await using var connection = new NpgsqlConnection(environment["ConnectionStrings__Postgres"]);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT \"ExternalId\", \"Id\" FROM traces", connection);
        await using var reader = await command.ExecuteReaderAsync();
        var stored = new Dictionary<string, Guid>();
        while (await reader.ReadAsync())
        {
            stored.Add(reader.GetString(0), reader.GetGuid(1));
        }

        return stored;
    }
}

public sealed class CrashDurabilitySqliteTests : CrashDurabilityTests, IDisposable
{
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("evalcrash-");

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        _folder.Delete(recursive: true);
    }

    protected override Task<Dictionary<string, string>> CreateDatabaseAsync() =>
        Task.FromResult(new Dictionary<string, string> { ["ConnectionStrings__Sqlite"] = $"Data Source={Path.Combine(_folder.FullName, "crash.db")}" });

    protected override async Task<Dictionary<string, Guid>> ReadStoredAsync(Dictionary<string, string> environment)
    {
        await using var connection = new SqliteConnection(environment["ConnectionStrings__Sqlite"]);
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT \"ExternalId\", \"Id\" FROM traces";
        await using var reader = await command.ExecuteReaderAsync();
        var stored = new Dictionary<string, Guid>();
        while (await reader.ReadAsync())
        {
            stored.Add(reader.GetString(0), reader.GetGuid(1));
        }

        return stored;
    }
}

internal static class CancellationTokenWaits
{
    /// <summary>Completes when the token is cancelled; fails after <paramref name="timeout"/>.</summary>
    public static Task WhenCanceledAsync(this CancellationToken token, TimeSpan timeout)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        token.Register(() => done.TrySetResult());
        return done.Task.WaitAsync(timeout);
    }
}
