using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Logging;

namespace EvalPlatform.Tests.EndToEnd;

/// <summary>
/// Someone else's web site: Kestrel on two loopback ports (two origins, neither the app's), serving one page that imports the
/// JS SDK's ES modules straight from <c>sdks/js/src</c> (plain ESM, no build step) and hands its exports to the test as
/// <c>window.EvalSdk</c>; <c>body[data-sdk=ready]</c> says they loaded.
/// </summary>
public sealed class SdkPageSite : IAsyncLifetime
{
    private const string Page = """
        <!doctype html>
        <html lang="en">
        <head><meta charset="utf-8"><title>Northwind support</title><link rel="icon" href="data:,"></head>
        <body>
        <h1>Northwind support</h1>
        <script type="module">
          import * as sdk from '/sdk/index.js';
          window.EvalSdk = sdk;
          document.body.dataset.sdk = 'ready';
        </script>
        </body>
        </html>
        """;

    private WebApplication? _site;

    /// <summary>The page on the first port, e.g. <c>http://127.0.0.1:41234</c> (no trailing slash: as a browser sends it in <c>Origin</c>).</summary>
    public string FirstOrigin { get; private set; } = "";

    /// <summary>The same page on the second port: another origin.</summary>
    public string SecondOrigin { get; private set; } = "";

    public async Task InitializeAsync()
    {
        var sdk = FindSdkSource();
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = sdk, EnvironmentName = "Production" });
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Listen(IPAddress.Loopback, 0);
            k.Listen(IPAddress.Loopback, 0);
        });
        _site = builder.Build();
        _site.UseStaticFiles(new StaticFileOptions { FileProvider = new PhysicalFileProvider(sdk), RequestPath = "/sdk" });
        _site.MapGet("/", () => Results.Content(Page, "text/html; charset=utf-8"));
        await _site.StartAsync();

        var origins = _site.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses
            .Select(a => a.TrimEnd('/'))
            .Order(StringComparer.Ordinal)
            .ToList();
        Assert.Equal(2, origins.Count);
        (FirstOrigin, SecondOrigin) = (origins[0], origins[1]);
    }

    public async Task DisposeAsync()
    {
        if (_site is not null)
        {
            await _site.DisposeAsync();
        }
    }

    private static string FindSdkSource()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "sdks", "js", "src");
            if (File.Exists(Path.Combine(candidate, "index.js")))
            {
                return candidate;
            }
        }

        throw new InvalidOperationException($"No sdks/js/src/index.js above {AppContext.BaseDirectory}: run the tests from the repository's build output.");
    }
}
