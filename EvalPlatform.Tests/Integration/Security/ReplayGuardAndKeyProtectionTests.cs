using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using EvalPlatform.Core.Webhooks;
using EvalPlatform.Data;
using EvalPlatform.Tests.Infrastructure;
using EvalPlatform.Web.Health;
using EvalPlatform.Web.Security;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using StackExchange.Redis;

namespace EvalPlatform.Tests.Integration.Security;

/// <summary>Issue 12: the webhook replay memory on one node and across nodes, and Data Protection keys encrypted with a certificate.</summary>
public sealed class ReplayGuardAndKeyProtectionTests
{
    [Fact]
    public async Task InProcess_RefusesASecondUse_UntilTheMemoryExpires()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UnixEpoch.AddYears(56));
        var guard = new InProcessWebhookReplayGuard(clock);

        Assert.True(await guard.TryFirstUseAsync("a", TimeSpan.FromMinutes(11)));
        Assert.False(await guard.TryFirstUseAsync("a", TimeSpan.FromMinutes(11)));
        Assert.True(await guard.TryFirstUseAsync("b", TimeSpan.FromMinutes(11)));
        clock.Advance(TimeSpan.FromMinutes(12));
        Assert.True(await guard.TryFirstUseAsync("a", TimeSpan.FromMinutes(11)));
    }

    [Fact]
    public async Task Redis_TwoNodesReceivingTheSameCopyAtOnce_AcceptItOnce()
    {
        await using var first = await ConnectionMultiplexer.ConnectAsync(TestEnvironment.Redis);
        await using var second = await ConnectionMultiplexer.ConnectAsync(TestEnvironment.Redis);
        var key = WebhookReplay.Key(Guid.NewGuid(), 1_800_000_000, "/api/v1/webhooks/github?team=x", "{}"u8);

        var answers = await Task.WhenAll(Enumerable.Range(0, 8).Select(i =>
            Guard(i % 2 == 0 ? first : second).TryFirstUseAsync(key, TimeSpan.FromMinutes(1))));

        Assert.Single(answers, a => a);
    }

    [Fact]
    public async Task Redis_WhileItIsDown_TheNodeRemembersDeliveriesItself_SoWebhooksAreStillTakenAndACopyRefused()
    {
        await using var redis = await PrivateRedis.StartAsync();
        await using var mux = await ConnectionMultiplexer.ConnectAsync($"{redis.ConnectionString},abortConnect=false,asyncTimeout=60000");
        var guard = Guard(mux);
        Assert.True(await guard.TryFirstUseAsync("before", TimeSpan.FromMinutes(1)));

        await redis.KillAsync();
        await Wait.UntilAsync(() => !mux.IsConnected, "the multiplexer to notice Redis was gone");

        Assert.True(await guard.TryFirstUseAsync("during", TimeSpan.FromMinutes(1)).WaitAsync(TimeSpan.FromSeconds(20)));
        Assert.False(await guard.TryFirstUseAsync("during", TimeSpan.FromMinutes(1)));
    }

    private static RedisWebhookReplayGuard Guard(IConnectionMultiplexer mux) =>
        new(mux, new RedisFallback(mux, NullLogger<RedisFallback>.Instance), new InProcessWebhookReplayGuard(TimeProvider.System));

    [Fact]
    public async Task WithACertificateConfigured_DataProtectionKeysAreStoredEncrypted_AndStillUnprotect()
    {
        var folder = Directory.CreateTempSubdirectory("evaltest-cert-").FullName;
        try
        {
            using var rsa = RSA.Create(2048);
            var request = new CertificateRequest("CN=EvalPlatform key protection test", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            using var certificate = request.CreateSelfSigned(TimeProvider.System.GetUtcNow().AddDays(-1), TimeProvider.System.GetUtcNow().AddYears(1));
            var path = Path.Combine(folder, "keys.pfx");
            await File.WriteAllBytesAsync(path, certificate.Export(X509ContentType.Pfx, "pfx password"));

            var app = new CertificateAppFactory(path, "pfx password");
            await ((IAsyncLifetime)app).InitializeAsync();
            try
            {
                await AssertKeysEncryptedAsync(app);
            }
            finally
            {
                await ((IAsyncLifetime)app).DisposeAsync();
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static async Task AssertKeysEncryptedAsync(EvalAppFactory app)
    {
        var protector = app.Services.GetRequiredService<IDataProtectionProvider>().CreateProtector("test");
        var sealedText = protector.Protect("a webhook secret");

        Assert.Equal("a webhook secret", protector.Unprotect(sealedText));
        await using var scope = app.Services.CreateAsyncScope();
        var keys = await scope.ServiceProvider.GetRequiredService<EvalDbContext>().DataProtectionKeys.Select(k => k.Xml).ToListAsync();
        Assert.NotEmpty(keys);
        Assert.All(keys, xml =>
        {
            Assert.Contains("EncryptedData", xml, StringComparison.Ordinal);
            Assert.DoesNotContain("<value>", xml, StringComparison.Ordinal);
        });
    }

    private sealed class CertificateAppFactory(string path, string password) : EvalAppFactory(TestDatabase.Sqlite)
    {
        protected override void ConfigureWebHost(Microsoft.AspNetCore.Hosting.IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            builder.UseSetting("DataProtection:CertificatePath", path);
            builder.UseSetting("DataProtection:CertificatePassword", password);
        }
    }
}
