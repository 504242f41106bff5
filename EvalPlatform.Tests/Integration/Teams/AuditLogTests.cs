using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using EvalPlatform.Core.Audit;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Queues;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Core.Traces;
using EvalPlatform.Core.Webhooks;
using EvalPlatform.Data.Identity;
using EvalPlatform.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace EvalPlatform.Tests.Integration.Teams;

/// <summary>The audit log: what the services record, who may read it, its filters and pages, and that it cannot be rewritten.</summary>
public abstract class AuditLogTests(EvalAppFactory app)
{
    [Fact]
    public async Task CreatingAndRevokingAKey_RecordsBoth_NewestFirst_WithTheMemberAndTheKeysFacts()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        await AsOwnerAsync(team, async sp =>
        {
            var keys = sp.GetRequiredService<ApiKeyService>();
            var created = await keys.CreateAsync("ci pipeline", ApiKeyScopes.Ingest | ApiKeyScopes.Read);
            await keys.RevokeAsync(created.Info.Id);
            await keys.RevokeAsync(created.Info.Id); // already revoked: nothing new to record

            var page = await sp.GetRequiredService<AuditLog>().ListAsync(new AuditFilter());
            Assert.Equal([AuditActions.ApiKeyRevoked, AuditActions.ApiKeyCreated], page.Items.Select(e => e.Action).ToArray());
            Assert.All(page.Items, e => Assert.Equal(team.OwnerEmail, e.Actor));
            Assert.All(page.Items, e => Assert.Equal(team.OwnerId, e.ActorId));
            Assert.All(page.Items, e => Assert.Equal("ci pipeline", e.Target));
            var details = AuditLog.ReadDetails(page.Items[1]);
            Assert.Equal("ingest,read", details["scopes"]);
            Assert.Equal(created.Info.Prefix, details["prefix"]);
            Assert.DoesNotContain(created.Key, page.Items[1].Details!, StringComparison.Ordinal);
        });
    }

    [Fact]
    public async Task RotatingTheWebhookSecret_AndChangingAQueue_AreRecorded()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        await AsOwnerAsync(team, async sp =>
        {
            var secrets = sp.GetRequiredService<WebhookSecretService>();
            var first = await secrets.CreateAsync();
            var second = await secrets.RotateAsync();
            var queues = sp.GetRequiredService<QueueService>();
            var queue = await queues.CreateAsync(new QueueDefinition("Weekly sample", new TraceFilter(), SamplePercent: 10));
            await queues.DeleteAsync(queue.Id);

            var items = (await sp.GetRequiredService<AuditLog>().ListAsync(new AuditFilter())).Items;
            Assert.Equal(
                [AuditActions.QueueDeleted, AuditActions.QueueCreated, AuditActions.WebhookSecretRotated, AuditActions.WebhookSecretCreated],
                items.Select(e => e.Action).ToArray());
            var rotated = items.Single(e => e.Action == AuditActions.WebhookSecretRotated);
            Assert.Equal($"…{second.Info.Hint}", rotated.Target);
            Assert.Equal($"…{first.Info.Hint}", AuditLog.ReadDetails(rotated)["previous"]);
            Assert.DoesNotContain(second.Secret, rotated.Details!, StringComparison.Ordinal);
            Assert.Equal("10", AuditLog.ReadDetails(items.Single(e => e.Action == AuditActions.QueueCreated))["sample_percent"]);
        });
    }

    [Fact]
    public async Task PasswordSignIns_OfAKnownAccount_AreRecordedInEachOfItsTeams_FailuresAndLockoutToo()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        var other = await TestData.CreateTeamAsync(app.Services);
        var (userId, email) = await TestData.CreateMemberAsync(app.Services, team.Id, TeamRole.Reviewer);
        await using (var scope = app.Services.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<TeamService>().AddMemberAsync(other.Id, userId, TeamRole.Viewer);
        }

        Assert.True((await SignInAsync(email, TestData.Password)).Succeeded);
        Assert.False((await SignInAsync(email, "not the password at all")).Succeeded);
        Assert.False((await SignInAsync("nobody-" + email, TestData.Password)).Succeeded); // unknown: no team to tell

        foreach (var t in new[] { team, other })
        {
            await AsOwnerAsync(t, async sp =>
            {
                var entries = (await sp.GetRequiredService<AuditLog>().ListAsync(new AuditFilter(Action: "auth"))).Items;
                Assert.Equal([AuditActions.SignInFailed, AuditActions.SignedIn], entries.Select(e => e.Action).ToArray());
                Assert.All(entries, e => Assert.Equal(email, e.Actor));
                Assert.All(entries, e => Assert.Equal(userId, e.ActorId));
            });
        }
    }

    [Fact]
    public async Task MemberActions_InvitedJoinedRoleChangedOwnershipTransferredRemoved_AreRecorded()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        var newcomer = await TestData.CreateUserAsync(app.Services);
        string link = "";
        await AsOwnerAsync(team, async sp =>
        {
            var issued = await sp.GetRequiredService<InvitationService>().InviteAsync(newcomer.Email!, TeamRole.Reviewer, new Uri("http://localhost/"));
            link = issued.Link;
        });
        await using (var scope = app.Services.CreateAsyncScope())
        {
            var token = link[(link.LastIndexOf('/') + 1)..];
            await scope.ServiceProvider.GetRequiredService<InvitationService>().AcceptAsync(token, newcomer.Id, newcomer.Email!);
        }

        await AsOwnerAsync(team, async sp =>
        {
            var members = sp.GetRequiredService<MemberService>();
            await members.ChangeRoleAsync(newcomer.Id, TeamRole.Admin);
            await members.TransferOwnershipAsync(newcomer.Id);
        });
        await using (var scope = app.Services.CreateAsyncScope())
        {
            scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(team.Id, newcomer.Id, TeamRole.Owner);
            await scope.ServiceProvider.GetRequiredService<MemberService>().RemoveAsync(team.OwnerId);
            var entries = (await scope.ServiceProvider.GetRequiredService<AuditLog>().ListAsync(new AuditFilter(Action: "member"))).Items
                .Concat((await scope.ServiceProvider.GetRequiredService<AuditLog>().ListAsync(new AuditFilter(Action: "team"))).Items)
                .OrderByDescending(e => e.At).ThenByDescending(e => e.Id).ToList();

            Assert.Equal(
                [AuditActions.MemberRemoved, AuditActions.OwnershipTransferred, AuditActions.MemberRoleChanged, AuditActions.MemberJoined, AuditActions.MemberInvited],
                entries.Select(e => e.Action).ToArray());
            Assert.Equal<string?>(new string?[] { newcomer.Email, team.OwnerEmail, team.OwnerEmail, newcomer.Email, team.OwnerEmail }, entries.Select(e => (string?)e.Actor));
            Assert.Equal<string?>(new string?[] { team.OwnerEmail, newcomer.Email, newcomer.Email, newcomer.Email, newcomer.Email }, entries.Select(e => e.Target));
            Assert.Equal("reviewer", AuditLog.ReadDetails(entries[2])["from"]);
            Assert.Equal("admin", AuditLog.ReadDetails(entries[2])["to"]);
            Assert.Equal("admin", AuditLog.ReadDetails(entries[0])["role"]);
        }
    }

    [Fact]
    public async Task ExportingTraces_WithAKey_IsRecordedWithTheKeyAndTheFilter()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        var key = await TestData.CreateKeyAsync(app.Services, team.Id, ApiKeyScopes.Read, "nightly export");
        using var client = app.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key.Key);

        var response = await client.GetAsync("/api/v1/traces/export?format=csv&model=gpt-4o");
        response.EnsureSuccessStatusCode();
        await response.Content.ReadAsStringAsync();

        await AsOwnerAsync(team, async sp =>
        {
            var entry = Assert.Single((await sp.GetRequiredService<AuditLog>().ListAsync(new AuditFilter(Action: AuditActions.TracesExported))).Items);
            Assert.Equal("API key 'nightly export'", entry.Actor);
            Assert.Equal(key.Info.Id.ToString(), entry.ActorId);
            Assert.Equal("0 traces", entry.Target);
            Assert.Equal("csv", AuditLog.ReadDetails(entry)["format"]);
            Assert.Contains("model=gpt-4o", AuditLog.ReadDetails(entry)["filter"], StringComparison.Ordinal);
        });
    }

    [Fact]
    public async Task Api_AdminKey_ListsItsOwnTeamsEntriesOnly_PagedAndFiltered()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        var neighbour = await TestData.CreateTeamAsync(app.Services);
        await AsOwnerAsync(team, async sp =>
        {
            var keys = sp.GetRequiredService<ApiKeyService>();
            for (var i = 0; i < 5; i++)
            {
                await keys.CreateAsync($"key {i}", ApiKeyScopes.Ingest);
            }
        });
        await AsOwnerAsync(neighbour, sp => sp.GetRequiredService<ApiKeyService>().CreateAsync("the neighbour's key", ApiKeyScopes.Ingest));
        var admin = await TestData.CreateKeyAsync(app.Services, team.Id, ApiKeyScopes.Admin);
        using var client = app.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", admin.Key);

        var seen = new List<string>();
        string? cursor = null;
        var pages = 0;
        do
        {
            var body = await client.GetFromJsonAsync<JsonElement>($"/api/v1/audit-log?action=api_key&limit=2{(cursor is null ? "" : $"&cursor={cursor}")}");
            pages++;
            foreach (var item in body.GetProperty("items").EnumerateArray())
            {
                Assert.Equal("api_key.created", item.GetProperty("action").GetString());
                Assert.Equal(team.OwnerEmail, item.GetProperty("actor").GetString());
                Assert.Equal(JsonValueKind.Object, item.GetProperty("details").ValueKind);
                Assert.True(item.TryGetProperty("at", out _));
                Assert.True(item.TryGetProperty("id", out _));
                seen.Add(item.GetProperty("target").GetString()!);
            }

            cursor = body.GetProperty("next_cursor").GetString();
        }
        while (cursor is not null);

        Assert.Equal(3, pages);
        Assert.Equal(["key 4", "key 3", "key 2", "key 1", "key 0"], seen);

        var byTarget = await client.GetFromJsonAsync<JsonElement>("/api/v1/audit-log?target=key%203");
        Assert.Equal(["key 3"], byTarget.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("target").GetString()!).ToArray());
        var none = await client.GetFromJsonAsync<JsonElement>("/api/v1/audit-log?target=neighbour");
        Assert.Equal(0, none.GetProperty("items").GetArrayLength());
    }

    [Theory]
    [InlineData("limit=0", "limit")]
    [InlineData("limit=201", "limit")]
    [InlineData("from=yesterday", "from")]
    [InlineData("from=2026-02-02T00:00:00Z&to=2026-02-01T00:00:00Z", "to")]
    [InlineData("cursor=not-a-cursor", "cursor")]
    [InlineData("cursor=0190f5c2-0000-7000-8000-000000000000", "cursor")]
    public async Task Api_BadParameters_Are400NamingTheField(string query, string field)
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        var admin = await TestData.CreateKeyAsync(app.Services, team.Id, ApiKeyScopes.Admin);
        using var client = app.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", admin.Key);

        var response = await client.GetAsync($"/api/v1/audit-log?{query}");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.GetRawText());
    }

    [Fact]
    public async Task Api_KeyWithoutAdminScope_Is403_AndAReviewerCannotReadTheLog()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        var key = await TestData.CreateKeyAsync(app.Services, team.Id, ApiKeyScopes.Read | ApiKeyScopes.Ingest | ApiKeyScopes.Review);
        using var client = app.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key.Key);
        await ApiKeyAuthTests.AssertProblemAsync(await client.GetAsync("/api/v1/audit-log"), HttpStatusCode.Forbidden, "'admin' scope");

        var (reviewerId, _) = await TestData.CreateMemberAsync(app.Services, team.Id, TeamRole.Reviewer);
        await using var scope = app.Services.CreateAsyncScope();
        scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(team.Id, reviewerId, TeamRole.Reviewer);
        await Assert.ThrowsAsync<Core.Common.PermissionDeniedException>(() => scope.ServiceProvider.GetRequiredService<AuditLog>().ListAsync(new AuditFilter()));
    }

    [Fact]
    public async Task Entries_CannotBeChangedOrDeleted()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        await AsOwnerAsync(team, async sp =>
        {
            await sp.GetRequiredService<ApiKeyService>().CreateAsync("kept", ApiKeyScopes.Ingest);
            await using var db = await sp.GetRequiredService<IEvalDbContextFactory>().CreateAsync();
            var entry = await db.AuditEntries.SingleAsync();
            entry.Target = "rewritten";
            await Assert.ThrowsAsync<InvalidOperationException>(() => db.SaveChangesAsync());
            db.AuditEntries.Entry(entry).State = EntityState.Unchanged;
            db.AuditEntries.Remove(entry);
            await Assert.ThrowsAsync<InvalidOperationException>(() => db.SaveChangesAsync());

            await using var fresh = await sp.GetRequiredService<IEvalDbContextFactory>().CreateAsync();
            Assert.Equal("kept", (await fresh.AuditEntries.SingleAsync()).Target);
        });
    }

    private async Task AsOwnerAsync(TestTeam team, Func<IServiceProvider, Task> act)
    {
        await using var scope = app.Services.CreateAsyncScope();
        scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(team.Id, team.OwnerId, TeamRole.Owner);
        await act(scope.ServiceProvider);
    }

    private async Task<SignInResult> SignInAsync(string email, string password)
    {
        await using var scope = app.Services.CreateAsyncScope();
        scope.ServiceProvider.GetRequiredService<IHttpContextAccessor>().HttpContext = new DefaultHttpContext { RequestServices = scope.ServiceProvider };
        return await scope.ServiceProvider.GetRequiredService<SignInManager<ApplicationUser>>().PasswordSignInAsync(email, password, false, lockoutOnFailure: true);
    }
}

public sealed class AuditLogPostgresTests(PostgresAppFactory app) : AuditLogTests(app), IClassFixture<PostgresAppFactory>;

public sealed class AuditLogSqliteTests(SqliteAppFactory app) : AuditLogTests(app), IClassFixture<SqliteAppFactory>;
