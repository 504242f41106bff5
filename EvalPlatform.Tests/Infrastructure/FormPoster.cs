using System.Net;
using System.Text.RegularExpressions;

namespace EvalPlatform.Tests.Infrastructure;

/// <summary>Submits a static server-rendered Blazor form as a browser would: antiforgery token included.</summary>
public static partial class FormPoster
{
    public static async Task<HttpResponseMessage> SubmitAsync(HttpClient client, string pageUrl, string formName, IDictionary<string, string> fields)
    {
        var page = await client.GetAsync(pageUrl);
        Assert.True(page.StatusCode == HttpStatusCode.OK, $"GET {pageUrl} answered {(int)page.StatusCode} {page.Headers.Location}");
        var html = await page.Content.ReadAsStringAsync();
        var form = new Dictionary<string, string>(fields)
        {
            ["_handler"] = formName,
            ["__RequestVerificationToken"] = ReadToken(html),
        };
        using var content = new FormUrlEncodedContent(form);
        return await client.PostAsync(pageUrl, content);
    }

    public static string ReadToken(string html)
    {
        var token = TokenPattern().Match(html);
        Assert.True(token.Success, "No antiforgery token on the page");
        return WebUtility.HtmlDecode(token.Groups[1].Value);
    }

    [GeneratedRegex("name=\"__RequestVerificationToken\" value=\"([^\"]+)\"")]
    private static partial Regex TokenPattern();
}
