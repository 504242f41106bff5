using EvalPlatform.Core.Teams;
using EvalPlatform.Web.Components.Layout;
using MudBlazor;

namespace EvalPlatform.Web.Palette;

/// <summary>A page a member can open from the navigation, the user menu or the app bar, and who may see it.</summary>
public sealed record AppPage(string Title, string Href, string Icon, Func<CurrentTeam, bool> Visible, string Keywords = "");

/// <summary>
/// The pages the palette offers, with the same permissions as the navigation menu shows them (a component test renders
/// NavMenu for every role and compares), plus the inbox and the account page that the app bar leads to.
/// </summary>
public static class AppPages
{
    private static bool Everyone(CurrentTeam _) => true;

    public static readonly IReadOnlyList<AppPage> All =
    [
        new("Traces", "/traces", Icons.Material.Filled.Timeline, Everyone, "list explorer search"),
        new("Review", "/review", Icons.Material.Filled.RateReview, Everyone, "queues work"),
        new("Playground", "/playground", Icons.Material.Filled.SmartToy, c => c.Can(Permission.UsePlayground), "prompt try model"),
        new("Analytics", "/analytics", Icons.Material.Filled.Insights, c => c.Can(Permission.ViewTraces), "dashboard charts metrics"),
        new("Experiments", "/experiments", Icons.Material.Filled.Science, c => c.Can(Permission.ViewTraces), "a/b variants"),
        new("Evaluators", "/evaluators", Icons.Material.Filled.Gavel, c => c.Can(Permission.ViewTraces), "judges llm"),
        new("API keys", "/settings/api-keys", Icons.Material.Filled.Key, c => c.Can(Permission.ManageApiKeys), "settings tokens"),
        new("Webhooks", "/settings/webhooks", Icons.Material.Filled.Webhook, c => c.Can(Permission.ManageApiKeys), "settings"),
        new("Members", "/settings/members", Icons.Material.Filled.People, Everyone, "settings invite people colleagues"),
        new("Notifications settings", "/settings/notifications", Icons.Material.Filled.NotificationsActive, c => c.Can(Permission.ViewTraces), "settings channels slack email"),
        new("Ingestion", "/settings/ingestion", Icons.Material.Filled.Inbox, c => c.Can(Permission.ViewTraces), "settings issues errors"),
        new("Alerts", "/settings/alerts", Icons.Material.Filled.NotificationsActive, c => c.Can(Permission.ViewTraces), "settings rules"),
        new("Team", "/settings/team", Icons.Material.Filled.Groups, c => c.Can(Permission.ViewTraces), "settings retention"),
        new("Review settings", "/settings/review", Icons.Material.Filled.RuleFolder, c => c.Can(Permission.ManageTeam), "settings reasons score"),
        new("Review queues", "/settings/queues", Icons.Material.Filled.Queue, c => c.Can(Permission.ManageTeam), "settings"),
        new("Audit log", "/settings/audit-log", Icons.Material.Filled.History, c => c.Can(Permission.ViewAuditLog), "settings history"),
        new("Providers", "/settings/providers", Icons.Material.Filled.Hub, c => c.Can(Permission.ManageProviders), "settings openai anthropic"),
        new("LangSmith", "/settings/integrations/langsmith", Icons.Material.Filled.SyncAlt, c => c.Can(Permission.ManageIntegrations), "settings integrations import"),
        new("Jobs", "/settings/jobs", Icons.Material.Filled.Schedule, c => c.Can(Permission.ManageJobs), "settings schedule"),
        new("Notifications", "/notifications", Icons.Material.Filled.Notifications, Everyone, "inbox bell"),
        new("Account", "/account", Icons.Material.Filled.ManageAccounts, Everyone, "profile password sign out"),
    ];
}

/// <summary>The pages the member may see whose title (or a keyword) contains the term; all of them before anything is typed.</summary>
public sealed class PagesPaletteSource : IPaletteSource
{
    public int Order => 0;

    public Task<IReadOnlyList<PaletteItem>> SearchAsync(string term, CurrentTeam current, CancellationToken ct)
    {
        IReadOnlyList<PaletteItem> items = AppPages.All
            .Where(p => p.Visible(current))
            .Where(p => term.Length == 0 || p.Title.Contains(term, StringComparison.OrdinalIgnoreCase)
                || p.Keywords.Contains(term, StringComparison.OrdinalIgnoreCase))
            .Select(p => new PaletteItem("Page", p.Title, p.Href, p.Href, p.Icon))
            .ToList();
        return Task.FromResult(items);
    }
}
