using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Reflection;
using System.Text;
using Deque.AxeCore.Playwright;
using EvalPlatform.Core.Alerts;
using EvalPlatform.Core.Data;
using EvalPlatform.Core.Experiments;
using EvalPlatform.Core.Queues;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Tenancy;
using EvalPlatform.Tests.Infrastructure;
using Microsoft.AspNetCore.Components;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using Xunit.Abstractions;

namespace EvalPlatform.Tests.EndToEnd;

/// <summary>
/// Issue 13's accessibility goal held on every page. The routable pages are read from the app's assembly (every
/// <c>@page</c>), so a new page is visited without anyone adding it here; a route with parameters is filled from seeded
/// data (a route this test cannot fill fails it, naming the route). One browser page for the whole run: the interactive
/// pages are reached by navigating inside the running circuit (<c>Blazor.navigateTo</c>), not by loading each afresh,
/// and axe runs once per page per combination. Every page is scanned light at 1440 px and dark at 390 px; the densest
/// pages also dark at 1440 and light at 390. Violations are collected and reported together, not at the first.
/// </summary>
public sealed class EveryPageJourneyTests(KestrelAppFactory app, BrowserFixture browser, ITestOutputHelper output)
    : IClassFixture<KestrelAppFactory>, IClassFixture<BrowserFixture>
{
    /// <summary>Pages scanned in all four combinations: the ones with the most on them.</summary>
    private static readonly string[] DensePages = ["/traces", "/traces/{Id:guid}", "/analytics", "/review", "/review/{QueueId:guid}"];

    private sealed record Route(string Template, Type Component, bool Static);

    private sealed record Seeded(TestTeam Team, Guid TraceId, Guid QueueId, string ExperimentKey, Guid AlertId);

    /// <summary>The app's page routes, from the @page directives compiled into its assembly, with the component behind each.</summary>
    private static List<Route> PageRoutes() =>
        typeof(Program).Assembly.GetTypes()
            .SelectMany(t => t.GetCustomAttributes<RouteAttribute>().Select(r => new Route(
                r.Template, t, t.GetCustomAttribute<ExcludeFromInteractiveRoutingAttribute>() is not null)))
            .DistinctBy(r => r.Template).OrderBy(r => r.Template, StringComparer.Ordinal).ToList();

    /// <summary>
    /// A route's address with its parameters filled from the seeded data. An evaluator needs a provider connection, so its
    /// page is visited with an id that does not exist: its "not found" state is what is scanned there.
    /// </summary>
    private static string? Fill(string route, Seeded s) => route switch
    {
        "/traces/{Id:guid}" => $"/traces/{s.TraceId}",
        "/review/{QueueId:guid}" => $"/review/{s.QueueId}",
        "/experiments/{Key}" => $"/experiments/{s.ExperimentKey}",
        "/experiments/{Key}/edit" => $"/experiments/{s.ExperimentKey}/edit",
        "/settings/alerts/{Id:guid}" => $"/settings/alerts/{s.AlertId}",
        "/settings/alerts/{Id:guid}/edit" => $"/settings/alerts/{s.AlertId}/edit",
        "/evaluators/{Id:guid}" => $"/evaluators/{Guid.Empty}",
        "/invite/{Token}" => "/invite/not-a-real-token",
        _ when !route.Contains('{', StringComparison.Ordinal) => route,
        _ => null,
    };

    /// <summary>One team with content on its pages: traces (one errored, one with Markdown), a queue holding them, an experiment, an alert rule.</summary>
    private async Task<Seeded> SeedAsync()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        var key = await TestData.CreateKeyAsync(app.Services, team.Id, ApiKeyScopes.Ingest);
        using var http = new HttpClient { BaseAddress = app.ServerAddress };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key.Key);
        var traceId = await SendAsync(http, new
        {
            external_id = TestData.Unique("order"), name = "refund chat", user_input = "Where is my refund?",
            response = "It is on its way:\n\n1. Approved\n2. Sent\n\n- **Amount**: 20 €\n- `REF-1`",
            model = "gpt-4o-mini", tags = new[] { "billing", "refund" }, usage = new { prompt_tokens = 120, completion_tokens = 12 }, latency_ms = 640,
            user_id = "customer-7", environment = "production",
        });
        var failed = await SendAsync(http, new { name = "failing", user_input = "Cancel my order", error = "upstream timeout after 30 s", model = "gpt-4o" });
        for (var i = 0; i < 6; i++)
        {
            await SendAsync(http, new { name = $"chat {i}", user_input = $"Question {i}", response = $"Answer {i}", model = "claude-3-5-haiku", latency_ms = 100 * (i + 1) });
        }

        await using var scope = app.Services.CreateAsyncScope();
        scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(team.Id, team.OwnerId, TeamRole.Owner);
        var queue = new ReviewQueue { Id = Guid.NewGuid(), TeamId = team.Id, Name = "Refunds triage", Instructions = "Accept **polite** answers." };
        var experiment = new Experiment { Id = Guid.NewGuid(), TeamId = team.Id, Key = "checkout-copy", Name = "Checkout copy", VariantsJson = """[{"key":"control","weight":0.5},{"key":"short","weight":0.5}]""" };
        var alert = new AlertRule
        {
            Id = Guid.NewGuid(), TeamId = team.Id, Name = "Error rate", Metric = EvalPlatform.Core.Analytics.Metric.ErrorRate, WindowMinutes = 15,
            ConditionOp = AlertConditionOp.Above, ConditionValue = 0.5, MinSamples = 5,
        };
        await using (var db = await scope.ServiceProvider.GetRequiredService<IEvalDbContextFactory>().CreateAsync())
        {
            db.ReviewQueues.Add(queue);
            db.Experiments.Add(experiment);
            db.AlertRules.Add(alert);
            await db.SaveChangesAsync();
        }

        await scope.ServiceProvider.GetRequiredService<QueueService>().AddTracesAsync(queue.Id, [traceId, failed]);
        return new Seeded(team, traceId, queue.Id, experiment.Key, alert.Id);
    }

    [Fact]
    public async Task EveryPage_BothThemes_BothWidths_AxeClean()
    {
        var total = Stopwatch.StartNew();
        var seeded = await SeedAsync();
        var routes = PageRoutes();
        var unknown = routes.Where(r => Fill(r.Template, seeded) is null).Select(r => r.Template).ToList();
        Assert.True(unknown.Count == 0, "Pages this journey cannot fill (teach Fill their parameters): " + string.Join(", ", unknown));
        // Sign-in and set-up are scanned signed out by the first-run journey; signed in they only redirect.
        var pages = routes.Where(r => r.Template is not "/account/login" and not "/setup").ToList();
        Assert.True(pages.Count >= 30, $"Only {pages.Count} pages found in the assembly.");
        Assert.All(DensePages, d => Assert.Contains(pages, p => p.Template == d));

        await using var context = await browser.Browser.NewContextAsync(new()
        {
            BaseURL = app.ServerAddress.ToString(), ViewportSize = new() { Width = 1440, Height = 900 }, ColorScheme = ColorScheme.Light,
        });
        var page = await context.NewPageAsync();
        await page.SignInAsync(seeded.Team.OwnerEmail);
        var signedIn = total.Elapsed;

        var violations = new List<string>();
        var log = Path.Combine(BrowserFixture.ScreenshotFolder, "330-axe-every-page.txt");
        File.Delete(log);
        var passes = new (ColorScheme Scheme, int Width, int Height, bool All)[]
        {
            (ColorScheme.Light, 1440, 900, true), (ColorScheme.Dark, 390, 844, true), (ColorScheme.Dark, 1440, 900, false), (ColorScheme.Light, 390, 844, false),
        };
        var scans = 0;
        TimeSpan moving = default, scanning = default, shooting = default;
        foreach (var (scheme, width, height, all) in passes)
        {
            var where = $"{(scheme == ColorScheme.Dark ? "dark" : "light")} {width}";
            var passClock = Stopwatch.StartNew();
            await page.SetViewportSizeAsync(width, height);
            await page.EmulateMediaAsync(new() { ColorScheme = scheme });
            var visit = pages.Where(p => all || DensePages.Contains(p.Template)).ToList();
            var live = false;
            Route? previous = null;
            // Interactive pages first, inside one circuit; the static account pages are whole loads, so they come last.
            foreach (var route in visit.OrderBy(p => p.Static))
            {
                var url = Fill(route.Template, seeded)!;
                var step = Stopwatch.StartNew();
                if (route.Static || !live)
                {
                    await page.GotoAsync(url);
                    live = !route.Static;
                }
                else
                {
                    await NavigateInCircuitAsync(page, url, sameComponent: previous?.Component == route.Component);
                }

                await SettledAsync(page, scheme, route.Static);
                previous = route;
                moving += step.Elapsed;
                step.Restart();
                var results = await page.RunAxe();
                scanning += step.Elapsed;
                scans++;
                var found = results.Violations.Where(v => v.Impact is "critical" or "serious")
                    .SelectMany(v => v.Nodes.Select(n => $"{route.Template} ({where}): {v.Impact} {v.Id}: {n.Target} {Cut(n.Html)} {string.Join(" ", n.Any.Select(c => c.Message))}"))
                    .ToList();
                if (!route.Static)
                {
                    found.AddRange((await OffScreenAppBarControlsAsync(page, width)).Select(c => $"{route.Template} ({where}): app bar control off screen: {c}"));
                }

                violations.AddRange(found);
                // Written as found, so a run that is stopped still tells what it saw.
                await File.AppendAllLinesAsync(log, found.Count == 0 ? [$"{route.Template} ({where}): clean"] : found);
                step.Restart();
                await page.ScreenshotAsync(new() { Path = Path.Combine(BrowserFixture.ScreenshotFolder, $"330-page-{ShotName(route.Template)}-{where.Replace(' ', '-')}.png") });
                shooting += step.Elapsed;
            }

            output.WriteLine($"{where}: {visit.Count} pages in {passClock.Elapsed.TotalSeconds:F1} s");
        }

        output.WriteLine($"sign-in {signedIn.TotalSeconds:F1} s; {scans} scans of {pages.Count} pages; whole test {total.Elapsed.TotalSeconds:F1} s " +
            $"(navigating and settling {moving.TotalSeconds:F1} s, axe {scanning.TotalSeconds:F1} s, screenshots {shooting.TotalSeconds:F1} s)");
        Assert.True(violations.Count == 0, $"axe found {violations.Count} critical or serious violations:\n{string.Join("\n", violations)}");

        static string Cut(string? text) => text is { Length: > 160 } ? text[..160] + "…" : text ?? "";
        static string ShotName(string template)
        {
            var name = template.Trim('/').Replace('/', '-').Replace("{", "", StringComparison.Ordinal).Replace("}", "", StringComparison.Ordinal).Replace(':', '-');
            return name.Length == 0 ? "home" : name;
        }
    }

    /// <summary>
    /// The app bar's controls (buttons and links) whose box does not lie inside the viewport's width, each named by its
    /// label and box: on a phone the account button, the last of them, is the first pushed off the screen.
    /// </summary>
    private static Task<string[]> OffScreenAppBarControlsAsync(IPage page, int width) =>
        page.EvaluateAsync<string[]>(
            """
            w => [...document.querySelectorAll('.mud-appbar button, .mud-appbar a')]
                .filter(e => e.offsetParent !== null)
                .map(e => [e, e.getBoundingClientRect()])
                .filter(([, r]) => r.left < 0 || r.right > w)
                .map(([e, r]) => `${e.getAttribute('aria-label') || e.textContent.trim()} at ${Math.round(r.left)} to ${Math.round(r.right)} px`)
            """, width);

    /// <summary>
    /// Moves the running circuit to <paramref name="url"/> as a link click would. The page's old content is marked first
    /// and the move is done once the mark is gone (the new page replaced it); a page of the same component as the last
    /// keeps its elements, so there the address is what is waited on.
    /// </summary>
    private static async Task NavigateInCircuitAsync(IPage page, string url, bool sameComponent)
    {
        await page.EvaluateAsync("() => document.querySelectorAll('.mud-main-content > .mud-container > *').forEach(e => e.setAttribute('data-stale', ''))");
        await page.EvaluateAsync("u => Blazor.navigateTo(u)", url);
        await page.WaitForFunctionAsync("u => location.pathname === u", url, new() { Timeout = 10_000 });
        if (!sameComponent)
        {
            await page.WaitForFunctionAsync("() => !document.querySelector('[data-stale]')", null, new() { Timeout = 15_000 });
        }
    }

    /// <summary>Waits until the page is interactive (or is a static account page), in the asked theme, its skeletons replaced by data, and no transition running.</summary>
    private static async Task SettledAsync(IPage page, ColorScheme scheme, bool isStatic)
    {
        if (!isStatic)
        {
            await page.WaitUntilInteractiveAsync();
            var dark = scheme == ColorScheme.Dark ? "true" : "false";
            // MainLayout reads the system theme after its first render; MudBlazor's dark palette has a dark background.
            await page.WaitForFunctionAsync(
                "d => { const c = getComputedStyle(document.body).backgroundColor.match(/\\d+/g).map(Number); return (c[0] + c[1] + c[2] < 200) === (d === 'true'); }",
                dark, new() { Timeout = 10_000 });
        }

        await page.WaitForFunctionAsync("() => document.querySelectorAll('.mud-skeleton').length === 0", null, new() { Timeout = 15_000 });
        await page.Mouse.MoveAsync(1, 1);
        await page.WaitForAnimationsAsync();
    }

    private static async Task<Guid> SendAsync(HttpClient http, object trace)
    {
        var response = await http.PostAsync("/api/v1/traces", new StringContent(System.Text.Json.JsonSerializer.Serialize(trace), Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        using var doc = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return doc.RootElement.GetProperty("id").GetGuid();
    }
}
