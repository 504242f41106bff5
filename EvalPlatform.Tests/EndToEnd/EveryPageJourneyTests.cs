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
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using Xunit.Abstractions;

namespace EvalPlatform.Tests.EndToEnd;

/// <summary>
/// Issue 13's goals held on every page: the routable pages are read from the app's assembly (every <c>@page</c>), so a
/// new page is visited without anyone adding it here; a page with route parameters is filled from seeded data (a route
/// this test does not know fails it, naming the route). Each page is scanned by axe in light and dark at 1440 and 390 px
/// (one browser context each, signed in once), failing on any critical or serious violation, with a screenshot of each.
/// Also: the command palette (Ctrl+K → an external id → Enter opens the trace) and the getting-started checklist.
/// </summary>
public sealed class EveryPageJourneyTests(KestrelAppFactory app, BrowserFixture browser, ITestOutputHelper output)
    : IClassFixture<KestrelAppFactory>, IClassFixture<BrowserFixture>
{
    /// <summary>The app's page routes, from the @page directives compiled into its assembly.</summary>
    private static List<string> PageRoutes() =>
        typeof(Program).Assembly.GetTypes()
            .SelectMany(t => t.GetCustomAttributes<Microsoft.AspNetCore.Components.RouteAttribute>().Select(r => r.Template))
            .Distinct().Order(StringComparer.Ordinal).ToList();

    private sealed record Seeded(TestTeam Team, Guid TraceId, string ExternalId, Guid QueueId, string ExperimentKey, Guid AlertId);

    private async Task<Seeded> SeedAsync()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        var key = await TestData.CreateKeyAsync(app.Services, team.Id, ApiKeyScopes.Ingest);
        using var http = new HttpClient { BaseAddress = app.ServerAddress };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key.Key);
        var externalId = TestData.Unique("order");
        var traceId = await SendAsync(http, new
        {
            external_id = externalId, name = "refund chat", user_input = "Where is my refund?", response = "It is on its way:\n\n1. Approved\n2. Sent",
            model = "gpt-4o-mini", tags = new[] { "billing" }, usage = new { prompt_tokens = 120, completion_tokens = 12 }, latency_ms = 640,
        });
        await SendAsync(http, new { name = "failing", user_input = "Cancel my order", error = "upstream timeout after 30 s" });

        await using var scope = app.Services.CreateAsyncScope();
        scope.ServiceProvider.GetRequiredService<TeamContext>().SetMember(team.Id, team.OwnerId, TeamRole.Owner);
        await using var db = await scope.ServiceProvider.GetRequiredService<IEvalDbContextFactory>().CreateAsync();
        var queue = new ReviewQueue { Id = Guid.NewGuid(), TeamId = team.Id, Name = "Refunds triage", Instructions = "Accept **polite** answers." };
        var experiment = new Experiment { Id = Guid.NewGuid(), TeamId = team.Id, Key = "checkout-copy", Name = "Checkout copy", VariantsJson = """[{"key":"control","weight":0.5},{"key":"short","weight":0.5}]""" };
        var alert = new AlertRule { Id = Guid.NewGuid(), TeamId = team.Id, Name = "Error rate" };
        db.ReviewQueues.Add(queue);
        db.Experiments.Add(experiment);
        db.AlertRules.Add(alert);
        await db.SaveChangesAsync();
        return new Seeded(team, traceId, externalId, queue.Id, experiment.Key, alert.Id);
    }

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

    [Fact]
    public async Task EveryPage_BothThemes_BothWidths_AxeClean()
    {
        var seeded = await SeedAsync();
        var routes = PageRoutes();
        var unknown = routes.Where(r => Fill(r, seeded) is null).ToList();
        Assert.True(unknown.Count == 0, "Pages this journey cannot fill (teach Fill their parameters): " + string.Join(", ", unknown));
        // Sign-in and set-up are scanned by the first-run journey signed out; signed in they only redirect.
        var urls = routes.Where(r => r is not "/account/login" and not "/setup").Select(r => (Route: r, Url: Fill(r, seeded)!)).ToList();
        Assert.True(urls.Count >= 30, $"Only {urls.Count} pages found in the assembly.");

        // Signed in once; every context starts from that session.
        string state;
        await using (var signIn = await browser.Browser.NewContextAsync(new() { BaseURL = app.ServerAddress.ToString() }))
        {
            var page = await signIn.NewPageAsync();
            await page.SignInAsync(seeded.Team.OwnerEmail);
            state = await signIn.StorageStateAsync();
        }

        var failures = new List<string>();
        var clock = Stopwatch.StartNew();
        var shot = 300;
        foreach (var (scheme, width, height) in new[] { (ColorScheme.Light, 1440, 900), (ColorScheme.Dark, 1440, 900), (ColorScheme.Light, 390, 844), (ColorScheme.Dark, 390, 844) })
        {
            var where = $"{(scheme == ColorScheme.Dark ? "dark" : "light")} {width}";
            await using var context = await browser.Browser.NewContextAsync(new()
            {
                BaseURL = app.ServerAddress.ToString(), ViewportSize = new() { Width = width, Height = height }, ColorScheme = scheme, StorageState = state,
            });
            var page = await context.NewPageAsync();
            foreach (var (route, url) in urls)
            {
                await page.GotoAsync(url);
                await SettledAsync(page, scheme);
                var results = await page.RunAxe();
                var found = results.Violations.Where(v => v.Impact is "critical" or "serious")
                    .Select(v => $"{route} ({where}): {v.Impact} {v.Id}: {string.Join(" | ", v.Nodes.Take(4).Select(n => $"{n.Target} {Cut(n.Html)} {string.Join(" ", n.Any.Select(c => c.Message))}"))}")
                    .ToList();
                failures.AddRange(found);
                // Written as found, so a long run that is stopped still tells what it saw.
                await File.AppendAllLinesAsync(Path.Combine(BrowserFixture.ScreenshotFolder, "axe-every-page.txt"), found.Count == 0 ? [$"{route} ({where}): clean"] : found);
                var name = route.Trim('/').Replace('/', '-').Replace("{", "", StringComparison.Ordinal).Replace("}", "", StringComparison.Ordinal).Replace(':', '-');
                // The viewport only: a full-page capture of every page four times costs more than it shows.
                await page.ScreenshotAsync(new() { Path = Path.Combine(BrowserFixture.ScreenshotFolder, $"{shot++}-page-{(name.Length == 0 ? "home" : name)}-{where.Replace(' ', '-')}.png") });
            }
        }

        output.WriteLine($"{urls.Count} pages × 4 in {clock.Elapsed.TotalSeconds:F0} s");
        Assert.True(failures.Count == 0, $"axe found {failures.Count} critical or serious violations:\n{string.Join("\n", failures)}");

        static string Cut(string? text) => text is { Length: > 200 } ? text[..200] + "…" : text ?? "";
    }

    /// <summary>
    /// Waits until the page is interactive (or is a static account page), in the asked theme, its skeletons replaced by
    /// data, and no transition running.
    /// </summary>
    private static async Task SettledAsync(IPage page, ColorScheme scheme)
    {
        await page.WaitForFunctionAsync(
            "() => document.querySelector('[data-testid=interactive][data-interactive=true]') || document.querySelector('.account-shell')",
            null, new() { Timeout = 15_000 });
        if (scheme == ColorScheme.Dark && await page.Locator(".account-shell").CountAsync() == 0)
        {
            await page.WaitForFunctionAsync("() => document.querySelector('.mud-theme-dark, .mud-layout') && getComputedStyle(document.body).backgroundColor !== 'rgb(255, 255, 255)'",
                null, new() { Timeout = 10_000 });
        }

        await page.WaitForFunctionAsync("() => document.querySelectorAll('.mud-skeleton').length === 0", null, new() { Timeout = 10_000 });
        await page.WaitForAnimationsAsync();
    }

    [Fact]
    public async Task CommandPalette_CtrlK_AnExternalId_Enter_OpensTheTrace()
    {
        var seeded = await SeedAsync();
        await using var context = await browser.Browser.NewContextAsync(new()
        {
            BaseURL = app.ServerAddress.ToString(), ViewportSize = new() { Width = 1440, Height = 900 }, ColorScheme = ColorScheme.Light,
        });
        var page = await context.NewPageAsync();
        await page.SignInAsync(seeded.Team.OwnerEmail);
        await page.Locator("[data-testid=palette-ready][data-attached=true]").WaitForAsync(new() { State = WaitForSelectorState.Attached });

        await page.Keyboard.PressAsync("Control+k");
        var input = page.Locator("[data-testid=palette-input]");
        await Assertions.Expect(input).ToBeFocusedAsync();
        await input.PressSequentiallyAsync(seeded.ExternalId);
        await Assertions.Expect(page.Locator("[data-testid=palette-option][data-kind=Trace]")).ToHaveCountAsync(1);
        await page.AssertAccessibleAsync("palette open, light 1440");
        await page.ScreenshotAsync("290-palette-trace-light-1440");
        await page.Keyboard.PressAsync("Enter");
        await page.WaitForURLAsync($"**/traces/{seeded.TraceId}");
        await page.Locator("[data-testid=chat]").GetByText("Where is my refund?").WaitForAsync();

        // Escape gives focus back to where it was: the palette's own button, opened by a click (as on a phone).
        await page.ClickAsync("[data-testid=palette-button]");
        await Assertions.Expect(input).ToBeFocusedAsync();
        await input.PressSequentiallyAsync("refunds");
        await Assertions.Expect(page.Locator("[data-testid=palette-option][data-kind=Queue]")).ToHaveCountAsync(1);
        await page.Keyboard.PressAsync("Escape");
        await Assertions.Expect(page.Locator("[data-testid=palette]")).ToHaveCountAsync(0);
        await Assertions.Expect(page.Locator("[data-testid=palette-button]")).ToBeFocusedAsync();

        // A phone in dark mode: the button in the app bar, the palette across the screen, a page by name.
        await page.SetViewportSizeAsync(390, 844);
        await page.EmulateMediaAsync(new() { ColorScheme = ColorScheme.Dark });
        await page.GotoAsync("/traces");
        await page.WaitUntilInteractiveAsync();
        await page.ClickAsync("[data-testid=palette-button]");
        await input.PressSequentiallyAsync("members");
        await Assertions.Expect(page.Locator("[data-testid=palette-option][data-kind=Page]").First).ToContainTextAsync("Members");
        await page.AssertAccessibleAsync("palette open, dark 390");
        await page.ScreenshotAsync("291-palette-page-dark-390");
        var box = await page.Locator("[data-testid=palette]").BoundingBoxAsync();
        Assert.True(box is not null && box.X >= 0 && box.X + box.Width <= 390, $"The palette does not fit a phone: {box?.X} + {box?.Width}");
        await page.Keyboard.PressAsync("Enter");
        await page.WaitForURLAsync("**/settings/members");
    }

    [Fact]
    public async Task GettingStarted_ANewTeam_SeesTheChecklist_AndItsStepsTick()
    {
        var team = await TestData.CreateTeamAsync(app.Services);
        await using var context = await browser.Browser.NewContextAsync(new()
        {
            BaseURL = app.ServerAddress.ToString(), ViewportSize = new() { Width = 1440, Height = 900 }, ColorScheme = ColorScheme.Light,
        });
        var page = await context.NewPageAsync();
        await page.SignInAsync(team.OwnerEmail);

        var checklist = page.Locator("[data-testid=getting-started]");
        await Assertions.Expect(checklist.Locator("[data-testid=getting-started-progress]")).ToHaveTextAsync("0 of 5 done");
        await page.AssertAccessibleAsync("getting started, light 1440");
        await page.ScreenshotAsync("292-getting-started-light-1440");

        // The key step's action opens the key dialog directly; once made, the step is ticked.
        await page.ClickAsync("[data-testid=step-key-action]");
        await page.Locator("[data-testid=create-key-dialog]").WaitForAsync();
        await page.Locator(".mud-dialog input").First.FillAsync("getting started key");
        await page.ClickAsync("[data-testid=confirm-create-key]");
        var key = (await page.Locator("[data-testid=created-key]").InnerTextAsync()).Trim();
        await page.ClickAsync("[data-testid=close-created-key]");
        await page.GotoAsync("/traces");
        await page.WaitUntilInteractiveAsync();
        await Assertions.Expect(page.Locator("[data-testid=step-key]")).ToHaveAttributeAsync("data-done", "true");
        await Assertions.Expect(page.Locator("[data-testid=step-trace]")).ToHaveAttributeAsync("data-done", "false");

        // Dark, on a phone: the curl fits the screen.
        await page.SetViewportSizeAsync(390, 844);
        await page.ToggleThemeAsync();
        Assert.True(await page.Locator("[data-testid=first-trace-command]").EvaluateAsync<bool>("e => e.scrollWidth <= e.clientWidth + 1"),
            "The first-trace command is cut off on a phone.");
        await page.AssertAccessibleAsync("getting started, dark 390");
        await page.ScreenshotAsync("293-getting-started-dark-390");

        // The first trace: the list takes the checklist's place with it.
        using var http = new HttpClient { BaseAddress = app.ServerAddress };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        await SendAsync(http, new { user_input = "My first trace", response = "Hello" });
        await page.GetByText("My first trace").First.WaitForAsync();
    }

    private static async Task<Guid> SendAsync(HttpClient http, object trace)
    {
        var response = await http.PostAsync("/api/v1/traces", new StringContent(System.Text.Json.JsonSerializer.Serialize(trace), Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        using var doc = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return doc.RootElement.GetProperty("id").GetGuid();
    }
}
