using EvalPlatform.Web.Notifications;

namespace EvalPlatform.Web.Members;

/// <summary>
/// The base of invitation links: <c>App:PublicBaseUrl</c> when set (the address people use, behind a proxy too), else
/// the address this request or page was reached at.
/// </summary>
public static class InvitationLinks
{
    public static Uri Base(AppOptions app, string reachedAt) =>
        !string.IsNullOrWhiteSpace(app.PublicBaseUrl) && Uri.TryCreate(app.PublicBaseUrl, UriKind.Absolute, out var configured)
            ? configured
            : new Uri(reachedAt);
}
