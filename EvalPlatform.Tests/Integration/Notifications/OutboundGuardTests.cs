using System.Net;
using System.Text.Json;
using EvalPlatform.Core.Outbound;
using EvalPlatform.Core.Teams;
using EvalPlatform.Tests.Infrastructure;
using Microsoft.Extensions.Options;

namespace EvalPlatform.Tests.Integration.Notifications;

/// <summary>The SSRF guard: which addresses are public, and refusals at connect time (DNS rebinding) as well as at save.</summary>
public sealed class OutboundGuardTests
{
    private sealed class Monitor(OutboundOptions value) : IOptionsMonitor<OutboundOptions>
    {
        public OutboundOptions CurrentValue => value;

        public OutboundOptions Get(string? name) => value;

        public IDisposable? OnChange(Action<OutboundOptions, string?> listener) => null;
    }

    private static OutboundGuard Guard(bool allowPrivate) => new(new Monitor(new OutboundOptions { AllowPrivateTargets = allowPrivate }));

    [Theory]
    [InlineData("127.0.0.1", false)]
    [InlineData("127.1.2.3", false)]
    [InlineData("10.0.0.5", false)]
    [InlineData("172.16.0.1", false)]
    [InlineData("172.31.255.255", false)]
    [InlineData("192.168.1.10", false)]
    [InlineData("169.254.169.254", false)] // cloud metadata
    [InlineData("100.64.0.1", false)]
    [InlineData("0.0.0.0", false)]
    [InlineData("224.0.0.1", false)]
    [InlineData("255.255.255.255", false)]
    [InlineData("::1", false)]
    [InlineData("::", false)]
    [InlineData("fe80::1", false)]
    [InlineData("fd00::1", false)]
    [InlineData("::ffff:127.0.0.1", false)]
    [InlineData("::ffff:10.1.2.3", false)]
    [InlineData("64:ff9b::a00:1", false)] // NAT64 of 10.0.0.1
    [InlineData("2001:db8::1", false)]
    [InlineData("172.32.0.1", true)]
    [InlineData("8.8.8.8", true)]
    [InlineData("52.1.2.3", true)]
    [InlineData("2606:4700::1111", true)]
    [InlineData("::ffff:8.8.8.8", true)]
    public void IsPublic_KnowsTheNonPublicRanges(string address, bool expected) =>
        Assert.Equal(expected, OutboundGuard.IsPublic(IPAddress.Parse(address)));

    [Theory]
    [InlineData("http://127.0.0.1:8080/hook")]
    [InlineData("http://localhost/hook")]
    [InlineData("http://169.254.169.254/latest/meta-data/")]
    [InlineData("http://[::1]/hook")]
    [InlineData("http://10.0.0.1/hook")]
    public async Task RequireAllowed_RefusesPrivateTargets_NamingTheField(string url)
    {
        var refused = await Assert.ThrowsAsync<Core.Common.DomainValidationException>(() => Guard(false).RequireAllowedAsync(url, "url", CancellationToken.None));
        Assert.Equal("url", refused.Field);
        Assert.Contains("Outbound:AllowPrivateTargets", refused.Message, StringComparison.Ordinal);
        await Guard(true).RequireAllowedAsync(url, "url", CancellationToken.None);
    }

    [Fact]
    public async Task Connect_ToANameThatResolvesToLoopback_IsRefused_UnlessAllowed()
    {
        await using var receiver = await FakeReceiver.StartAsync();
        // "localhost" stands for a public name rebound to a private address after it was saved: only the connect-time check sees it.
        var url = $"http://localhost:{receiver.Address.Port}/hooks/rebound";

        using (var guarded = new HttpClient(Guard(false).CreateHandler()))
        {
            var refused = await Assert.ThrowsAsync<HttpRequestException>(() => guarded.PostAsync(url, new StringContent("{}")));
            Assert.Contains("Refused to connect to 'localhost'", refused.Message, StringComparison.Ordinal);
        }

        Assert.Empty(receiver.To("/hooks/rebound"));
        using var allowed = new HttpClient(Guard(true).CreateHandler());
        Assert.Equal(HttpStatusCode.NoContent, (await allowed.PostAsync(url, new StringContent("{}"))).StatusCode);
        Assert.Single(receiver.To("/hooks/rebound"));
    }
}

/// <summary>The app with the default (private targets refused): saving a channel to a private address is a 400 naming the field.</summary>
public sealed class GuardedAppTests(SqliteAppFactory app) : IClassFixture<SqliteAppFactory>
{
    [Theory]
    [InlineData("webhook", "http://127.0.0.1:9/hook")]
    [InlineData("slack_webhook", "http://169.254.169.254/services/T0/B0/x")]
    public async Task CreatingAChannelToAPrivateAddress_Is400NamingUrl(string type, string url)
    {
        var (admin, _) = await ApiClient.ForNewTeamAsync(app, ApiKeyScopes.Admin);
        using var _admin = admin;
        var response = await admin.PostJsonAsync("/api/v1/notification-channels", new { name = "internal", type, url, event_types = new[] { "alert.firing" } });
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, body);
        var errors = JsonDocument.Parse(body).RootElement.GetProperty("errors");
        Assert.Contains("Outbound:AllowPrivateTargets", errors.GetProperty("url")[0].GetString(), StringComparison.Ordinal);
    }
}
