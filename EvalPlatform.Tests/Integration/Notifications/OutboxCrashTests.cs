using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using EvalPlatform.Tests.Infrastructure;
using Npgsql;

namespace EvalPlatform.Tests.Integration.Notifications;

/// <summary>
/// "A crash between commit and delivery delivers after restart", with the app as a real process: a rejection commits its
/// outbox row on a node that sends nothing (jobs off), the process is killed (SIGKILL), and the restarted app (jobs on)
/// delivers it to the local receiver exactly once.
/// </summary>
public sealed class OutboxCrashTests : IAsyncLifetime
{
    private PostgresTestDatabase _database = default!;
    private FakeReceiver _receiver = default!;

    public async Task InitializeAsync()
    {
        _database = await PostgresTestDatabase.CreateAsync();
        _receiver = await FakeReceiver.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _receiver.DisposeAsync();
        await _database.DisposeAsync();
    }

    [Fact]
    public async Task RowsCommittedBeforeAKill_AreDeliveredOnceAfterRestart()
    {
        var environment = new Dictionary<string, string>
        {
            ["ConnectionStrings__Postgres"] = _database.ConnectionString,
            ["Outbound__AllowPrivateTargets"] = "true",
        };
        var key = await CreateKeyAsync(environment);
        const string hook = "/hooks/after-crash";

        Guid eventId;
        await using (var server = await ServerProcess.StartAsync(new Dictionary<string, string>(environment) { ["Jobs__Enabled"] = "false" }))
        {
            using var http = Client(server, key);
            var created = await http.PostAsJsonAsync("/api/v1/notification-channels",
                new { name = "crm", type = "webhook", url = _receiver.HookUrl("after-crash"), event_types = new[] { "trace.reviewed" } });
            Assert.True(created.StatusCode == HttpStatusCode.Created, await created.Content.ReadAsStringAsync());
            var trace = await http.PostAsJsonAsync("/api/v1/traces", new { user_input = "q", response = "a", model = "gpt-4o" });
            var traceId = (await trace.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
            var review = await http.PostAsJsonAsync($"/api/v1/traces/{traceId}/review", new { action = "reject", reason = "hallucination" });
            Assert.True(review.IsSuccessStatusCode, await review.Content.ReadAsStringAsync());
            await server.KillAsync();
        }

        var rows = await RowsAsync();
        eventId = Assert.Single(rows).EventId;
        Assert.Equal("Pending", rows[0].Status);
        Assert.Empty(_receiver.To(hook));

        await using (var server = await ServerProcess.StartAsync(environment))
        {
            var received = await _receiver.WaitForAsync(hook, 1, TimeSpan.FromSeconds(60));
            Assert.Equal(eventId.ToString(), received[0].Headers["X-EvalPlatform-Event-Id"]);
            await Wait.UntilAsync(async () => (await RowsAsync())[0].Status == "Delivered", "the delivery to be recorded as delivered",
                onTimeout: () => server.Output);

            // Two more runs of the delivery job (the scheduler's own record of its fires, not a length of time): still one request.
            var fired = await DeliveryFiredAtAsync();
            await Wait.UntilAsync(async () => await DeliveryFiredAtAsync() > fired, "a run of the delivery job after the delivery", TimeSpan.FromSeconds(30));
            fired = await DeliveryFiredAtAsync();
            await Wait.UntilAsync(async () => await DeliveryFiredAtAsync() > fired, "a second run of the delivery job after the delivery", TimeSpan.FromSeconds(30));
            Assert.Single(_receiver.To(hook));
        }
    }

    /// <summary>When the delivery job's trigger last fired (Quartz's clustered store, in ticks).</summary>
    private async Task<long> DeliveryFiredAtAsync()
    {
        await using var connection = new NpgsqlConnection(_database.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT COALESCE(MAX(prev_fire_time), 0) FROM qrtz_triggers WHERE trigger_name = 'notification-delivery'", connection);
        return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }

    private async Task<List<(Guid EventId, string Status)>> RowsAsync()
    {
        await using var connection = new NpgsqlConnection(_database.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT \"EventId\", \"Status\" FROM notification_deliveries", connection);
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<(Guid, string)>();
        while (await reader.ReadAsync())
        {
            rows.Add((reader.GetGuid(0), reader.GetString(1)));
        }

        return rows;
    }

    private static HttpClient Client(ServerProcess server, string key)
    {
        var http = new HttpClient { BaseAddress = server.Address, Timeout = TimeSpan.FromSeconds(30) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return http;
    }

    private static async Task<string> CreateKeyAsync(Dictionary<string, string> environment)
    {
        var team = TestData.Unique("outbox");
        var migrated = await AppProcess.RunAsync(["admin", "migrate"], environment);
        Assert.True(migrated.ExitCode == 0, migrated.Stderr);
        var created = await AppProcess.RunAsync(
            ["admin", "create-team", "--name", team, "--owner", $"{team}@example.test", "--password-stdin"], environment, stdin: TestData.Password);
        Assert.True(created.ExitCode == 0, created.Stderr);
        var key = await AppProcess.RunAsync(["admin", "create-api-key", "--team", team, "--name", "outbox", "--scopes", "ingest,read,review,admin"], environment);
        Assert.True(key.ExitCode == 0, key.Stderr);
        return key.Stdout.Trim();
    }
}
