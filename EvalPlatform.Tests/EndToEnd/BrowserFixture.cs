using Deque.AxeCore.Playwright;
using EvalPlatform.Tests.Infrastructure;
using Microsoft.Playwright;

namespace EvalPlatform.Tests.EndToEnd;

/// <summary>Debian's Chromium driven by Playwright (nothing downloaded), one browser per test class.</summary>
public sealed class BrowserFixture : IAsyncLifetime
{
    private IPlaywright? _playwright;

    public IBrowser Browser { get; private set; } = default!;

    public static string ScreenshotFolder { get; } = Directory.CreateDirectory(Path.Combine(AppContext.BaseDirectory, "screenshots")).FullName;

    public async Task InitializeAsync()
    {
        if (!File.Exists(TestEnvironment.Chromium))
        {
            throw new InvalidOperationException($"No Chromium at {TestEnvironment.Chromium}: scripts/services.sh installs Debian's 'chromium' package.");
        }

        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = TestEnvironment.Chromium,
            Headless = true,
            Args =
            [
                "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run",
            ],
        });
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.DisposeAsync();
        }

        _playwright?.Dispose();
    }
}

/// <summary>The app on a real Kestrel port, on PostgreSQL and Redis.</summary>
public sealed class KestrelAppFactory() : EvalAppFactory(TestDatabase.Postgres, redis: true, kestrel: true);

public static class PageExtensions
{
    /// <summary>Collects the page's console errors (a broken circuit reports there) for assertion messages.</summary>
    public static List<string> CollectConsoleErrors(this IPage page)
    {
        var errors = new List<string>();
        page.Console += (_, message) =>
        {
            if (message.Type == "error")
            {
                lock (errors)
                {
                    errors.Add(message.Text);
                }
            }
        };
        return errors;
    }

    /// <summary>Clicks on prerendered HTML are lost: wait until the circuit has taken over the page.</summary>
    public static Task WaitUntilInteractiveAsync(this IPage page) =>
        page.Locator("[data-testid=interactive][data-interactive=true]").WaitForAsync(new() { State = WaitForSelectorState.Attached });

    /// <summary>Signs in through the login form and waits until the traces page, where sign-in lands, is interactive.</summary>
    public static async Task SignInAsync(this IPage page, string email, string password = TestData.Password)
    {
        await page.GotoAsync("/account/login");
        await page.FillAsync("#email", email);
        await page.FillAsync("#password", password);
        await page.ClickAsync("button[type=submit]");
        await page.WaitForURLAsync("**/traces");
        await page.WaitUntilInteractiveAsync();
    }

    /// <summary>
    /// Runs axe-core on the page as it is now and fails on any critical or serious violation, naming each rule and the
    /// elements it found (<paramref name="where"/> says which state of the page, e.g. "dark 390"), once no transition is running.
    /// </summary>
    public static async Task AssertAccessibleAsync(this IPage page, string where)
    {
        await page.WaitForAnimationsAsync();
        // A snackbar fades in and out by its own timer (opacity steps, not a CSS animation): scan it shown or gone, never half-faded.
        await page.WaitForFunctionAsync(
            "() => [...document.querySelectorAll('.mud-snackbar')].every(e => getComputedStyle(e).opacity === '1')", null, new() { Timeout = 10_000 });
        var results = await page.RunAxe();
        var blocking = results.Violations.Where(v => v.Impact is "critical" or "serious")
            .Select(v => $"{v.Impact} {v.Id} ({v.Help}): {string.Join(" | ", v.Nodes.Select(n => $"{n.Target} {Cut(n.Html)} {string.Join(" ", n.Any.Select(c => c.Message))}"))}")
            .ToList();
        Assert.True(blocking.Count == 0, $"axe, {where}:\n{string.Join("\n", blocking)}");

        static string Cut(string? text) => text is { Length: > 300 } ? text[..300] + "…" : text ?? "";
    }

    /// <summary>
    /// Switches between light and dark with the app bar's toggle and returns once the page shows the new theme: the
    /// switch is a round trip to the circuit, so the colours' transitions start only after the click has returned. The
    /// pointer then leaves the toggle, whose tooltip would otherwise be caught fading in.
    /// </summary>
    public static async Task ToggleThemeAsync(this IPage page)
    {
        const string Background = "() => getComputedStyle(document.body).backgroundColor";
        var before = await page.EvaluateAsync<string>(Background);
        await page.ClickAsync("[data-testid=theme-toggle]", new() { Timeout = 10_000 });
        await page.WaitForFunctionAsync($"b => ({Background})() !== b", before, new() { Timeout = 10_000 });
        await page.Mouse.MoveAsync(1, 1);
        await page.WaitForAnimationsAsync();
    }

    public static Task ScreenshotAsync(this IPage page, string name) =>
        page.ScreenshotAsync(new() { Path = Path.Combine(BrowserFixture.ScreenshotFolder, name + ".png"), FullPage = true });

    /// <summary>Waits until no transition or animation is running (a fade-in, a theme change), endless ones (spinners, skeletons) aside.</summary>
    public static async Task WaitForAnimationsAsync(this IPage page) =>
        await page.WaitForFunctionAsync(
            "() => document.getAnimations().every(a => a.effect?.getTiming().iterations === Infinity)", null, new() { Timeout = 5_000 });
}
