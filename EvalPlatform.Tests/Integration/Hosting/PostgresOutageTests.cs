using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using EvalPlatform.Core.Teams;
using EvalPlatform.Tests.Infrastructure;
using Npgsql;
using Xunit.Abstractions;

namespace EvalPlatform.Tests.Integration.Hosting;

/// <summary>
/// PostgreSQL "restarted" under load (issue 14's "Faults survived"): four clients post single traces while the database's
/// backends are terminated (what a fast shutdown does to them), its connections reset and new ones refused, then it comes
/// back. Every answer is 201 or 503 with <c>Retry-After</c> (never a 500), ingestion resumes by itself, and every
/// acknowledged trace is stored, once.
/// </summary>
public sealed class PostgresOutageTests(ITestOutputHelper output) : IAsyncLifetime
{
    private PostgresTestDatabase _database = default!;
    private OutageProxy _proxy = default!;
    private EvalAppFactory _app = default!;

    public async Task InitializeAsync()
    {
        _database = await PostgresTestDatabase.CreateAsync();
        var direct = new NpgsqlConnectionStringBuilder(_database.ConnectionString);
        _proxy = OutageProxy.Start(direct.Host!, direct.Port);
        var throughProxy = new NpgsqlConnectionStringBuilder(_database.ConnectionString) { Host = "127.0.0.1", Port = _proxy.Port, Timeout = 3 };
        _app = new EvalAppFactory(TestDatabase.Postgres, sharedConnectionString: throughProxy.ToString());
        await ((IAsyncLifetime)_app).InitializeAsync();
    }

    public async Task DisposeAsync()
    {
        await ((IAsyncLifetime)_app).DisposeAsync();
        await _proxy.DisposeAsync();
        await _database.DisposeAsync();
    }

    [Fact]
    public async Task RestartUnderLoad_AnswersOnly201Or503WithRetryAfter_ResumesByItself_AndStoresEveryAcknowledgedTraceOnce()
    {
        var (api, _) = await ApiClient.ForNewTeamAsync(_app, ApiKeyScopes.Ingest | ApiKeyScopes.Read);
        var acknowledged = new List<Guid>();
        var statuses = new Dictionary<HttpStatusCode, int>();
        var retryAfterMissing = 0;
        var phase = 0; // 0 before, 1 down, 2 back
        var afterRecovery = 0;
        using var stop = new CancellationTokenSource();

        async Task ClientAsync(int client)
        {
            var sent = 0;
            while (!stop.IsCancellationRequested)
            {
                using var content = new StringContent(JsonSerializer.Serialize(new { user_input = $"client {client} trace {sent++}" }), new MediaTypeHeaderValue("application/json"));
                using var response = await api.Http.PostAsync("/api/v1/traces", content, CancellationToken.None);
                var body = await response.Content.ReadAsStringAsync(CancellationToken.None);
                lock (statuses)
                {
                    statuses[response.StatusCode] = statuses.GetValueOrDefault(response.StatusCode) + 1;
                    if (response.StatusCode == HttpStatusCode.Created)
                    {
                        acknowledged.Add(JsonDocument.Parse(body).RootElement.GetProperty("id").GetGuid());
                        if (Volatile.Read(ref phase) == 2)
                        {
                            afterRecovery++;
                        }
                    }
                    else if (response.StatusCode == HttpStatusCode.ServiceUnavailable && response.Headers.RetryAfter is null)
                    {
                        retryAfterMissing++;
                    }
                }

                if (response.StatusCode == HttpStatusCode.ServiceUnavailable)
                {
                    // Not a wait in the test: the simulated client's own back-off, as a real client's after a 503 (a short one
                    // rather than Retry-After's whole seconds, so the outage sees many requests). The test waits on conditions.
                    await Task.Delay(50, CancellationToken.None);
                }
            }
        }

        var clients = Enumerable.Range(0, 4).Select(i => Task.Run(() => ClientAsync(i))).ToArray();
        await WaitUntilAsync(() => Count(acknowledged) >= 40, "40 traces acknowledged before the restart");

        // The restart: in-flight statements fail as a fast shutdown makes them fail, then nothing answers for a while.
        Volatile.Write(ref phase, 1);
        await TerminateBackendsAsync();
        _proxy.GoDown();
        await WaitUntilAsync(() => { lock (statuses) { return statuses.GetValueOrDefault(HttpStatusCode.ServiceUnavailable) >= 8; } }, "503s while the database is down");
        _proxy.ComeBack();
        Volatile.Write(ref phase, 2);
        await WaitUntilAsync(() => { lock (statuses) { return afterRecovery >= 40; } }, "ingestion resuming after the database returned");
        await stop.CancelAsync();
        await Task.WhenAll(clients);

        var seen = string.Join(", ", statuses.Select(kv => $"{(int)kv.Key}: {kv.Value}"));
        output.WriteLine($"Answers: {seen}; acknowledged {acknowledged.Count}, {afterRecovery} after the database returned.");
        Assert.True(statuses.Keys.All(s => s is HttpStatusCode.Created or HttpStatusCode.ServiceUnavailable), $"Answers: {seen}");
        Assert.Equal(0, retryAfterMissing);
        Assert.Equal(acknowledged.Count, acknowledged.Distinct().Count());

        await using var connection = new NpgsqlConnection(_database.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT count(*) FROM traces WHERE \"Id\" = ANY(@ids)", connection);
        command.Parameters.AddWithValue("ids", acknowledged.ToArray());
        Assert.Equal((long)acknowledged.Count, (long)(await command.ExecuteScalarAsync())!);
    }

    private async Task TerminateBackendsAsync()
    {
        await using var admin = new NpgsqlConnection(TestEnvironment.PostgresAdminConnectionString);
        await admin.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = @name AND pid <> pg_backend_pid()", admin);
        command.Parameters.AddWithValue("name", _database.Name);
        await command.ExecuteScalarAsync();
    }

    private static int Count(List<Guid> list)
    {
        lock (list)
        {
            return list.Count;
        }
    }

    private static Task WaitUntilAsync(Func<bool> condition, string what) => Wait.UntilAsync(condition, what, TimeSpan.FromSeconds(60));
}
