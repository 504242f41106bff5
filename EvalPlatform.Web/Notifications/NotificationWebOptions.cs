namespace EvalPlatform.Web.Notifications;

/// <summary>The <c>App</c> section: facts about this installation that leave it (links in Slack messages and webhooks).</summary>
public sealed class AppOptions
{
    public const string SectionName = "App";

    /// <summary>
    /// Where people reach the app (<c>https://eval.example.com</c>): the base of links in notifications. Unset, messages
    /// carry no link (a server cannot know the address people use behind a proxy).
    /// </summary>
    public string? PublicBaseUrl { get; set; }

    /// <summary>An absolute link for an app-relative one, or null without a public base URL.</summary>
    public string? Absolute(string? link)
    {
        if (link is null || string.IsNullOrWhiteSpace(PublicBaseUrl) || !Uri.TryCreate(PublicBaseUrl.TrimEnd('/') + "/", UriKind.Absolute, out var root))
        {
            return null;
        }

        return new Uri(root, link.TrimStart('/')).ToString();
    }
}

/// <summary>The <c>Slack</c> section.</summary>
public sealed class SlackOptions
{
    public const string SectionName = "Slack";

    /// <summary>The Web API's base (<c>chat.postMessage</c> is appended); a test points it at a local fake.</summary>
    public string ApiBaseUrl { get; set; } = "https://slack.com/api/";
}
