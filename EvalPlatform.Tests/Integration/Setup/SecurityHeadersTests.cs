using System.Net;
using System.Text.RegularExpressions;
using EvalPlatform.Tests.Infrastructure;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace EvalPlatform.Tests.Integration.Setup;

/// <summary>
/// Issue 12's headers and hub check over HTTP: every response carries the policy headers, the page's one inline script
/// carries this response's nonce, the Blazor hub refuses another site's origin, and behind TLS the cookies are __Host- and Secure.
/// </summary>
public sealed partial class SecurityHeadersTests(SqliteAppFactory app) : IClassFixture<SqliteAppFactory>
{
    [Fact]
    public async Task EveryResponse_CarriesThePolicyHeaders_AndThePagesInlineScriptHasThisResponsesNonce()
    {
        using var client = app.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
        foreach (var path in new[] { "/setup", "/api/v1/whoami", "/health/live", "/app.css" })
        {
            var response = await client.GetAsync(path);
            Assert.Equal(["nosniff"], response.Headers.GetValues("X-Content-Type-Options"));
            Assert.Equal(["strict-origin-when-cross-origin"], response.Headers.GetValues("Referrer-Policy"));
            var csp = Assert.Single(response.Headers.GetValues("Content-Security-Policy"));
            Assert.Contains("frame-ancestors 'none'", csp, StringComparison.Ordinal);
            Assert.DoesNotContain("'unsafe-inline'", csp.Split(';').Single(d => d.Trim().StartsWith("script-src", StringComparison.Ordinal)), StringComparison.Ordinal);
        }

        var page = await client.GetAsync("/setup");
        var nonce = NonceRegex().Match(Assert.Single(page.Headers.GetValues("Content-Security-Policy"))).Groups[1].Value;
        var html = await page.Content.ReadAsStringAsync();
        var importMap = Regex.Match(html, "<script[^>]*importmap[^>]*>").Value;
        Assert.Contains($"nonce=\"{nonce}\"", importMap, StringComparison.Ordinal);
        var again = await client.GetAsync("/setup");
        Assert.NotEqual(nonce, NonceRegex().Match(Assert.Single(again.Headers.GetValues("Content-Security-Policy"))).Groups[1].Value);
    }

    [Fact]
    public async Task PagesAndApiAnswers_AreNotStored_WhileStaticAssetsKeepTheirCaching()
    {
        using var client = app.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
        foreach (var path in new[] { "/setup", "/api/v1/whoami", "/health/live" })
        {
            var response = await client.GetAsync(path);
            Assert.True(response.Headers.CacheControl?.NoStore, $"{path}: Cache-Control {response.Headers.CacheControl}");
        }

        var asset = await client.GetAsync("/app.css");
        Assert.False(asset.Headers.CacheControl?.NoStore ?? false, $"/app.css: Cache-Control {asset.Headers.CacheControl}");
    }

    [Fact]
    public void Hsts_IsAYearWithSubdomains_AndPasswordsAreHashedAtOwaspsIterations()
    {
        var hsts = app.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<Microsoft.AspNetCore.HttpsPolicy.HstsOptions>>().Value;
        Assert.Equal(TimeSpan.FromDays(365), hsts.MaxAge);
        Assert.True(hsts.IncludeSubDomains);

        // Identity's v3 format: a marker byte, the PRF, then the iteration count (big-endian).
        using var scope = app.Services.CreateScope();
        var hasher = scope.ServiceProvider.GetRequiredService<Microsoft.AspNetCore.Identity.IPasswordHasher<EvalPlatform.Data.Identity.ApplicationUser>>();
        var hash = Convert.FromBase64String(hasher.HashPassword(new(), "correct horse battery staple"));
        Assert.Equal(0x01, hash[0]);
        Assert.Equal(210_000, System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(hash.AsSpan(5, 4)));
    }

    [Fact]
    public async Task TheBlazorHub_RefusesAnotherSitesOrigin_AndAnswersItsOwn()
    {
        using var client = app.CreateClient();

        var foreign = new HttpRequestMessage(HttpMethod.Post, "/_blazor/negotiate?negotiateVersion=1");
        foreign.Headers.Add("Origin", "https://evil.example");
        Assert.Equal(HttpStatusCode.Forbidden, (await client.SendAsync(foreign)).StatusCode);

        var own = new HttpRequestMessage(HttpMethod.Post, "/_blazor/negotiate?negotiateVersion=1");
        own.Headers.Add("Origin", client.BaseAddress!.GetLeftPart(UriPartial.Authority));
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(own)).StatusCode);
    }

    [Fact]
    public async Task BehindTls_TheCookiesAreHostPrefixed_AndSecure()
    {
        using var tls = app.WithWebHostBuilder(b => b.UseSetting("Auth:CookieSecure", "Always"));
        using var client = tls.CreateClient(new WebApplicationFactoryClientOptions { BaseAddress = new Uri("https://localhost"), AllowAutoRedirect = false });

        var response = await client.GetAsync("/setup");

        var cookie = Assert.Single(response.Headers.GetValues("Set-Cookie"), c => c.Contains("evalplatform.antiforgery", StringComparison.Ordinal));
        Assert.StartsWith("__Host-evalplatform.antiforgery=", cookie, StringComparison.Ordinal);
        Assert.Contains("secure", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("path=/", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("domain=", cookie, StringComparison.OrdinalIgnoreCase);
    }

    [GeneratedRegex("'nonce-([^']+)'")]
    private static partial Regex NonceRegex();
}
