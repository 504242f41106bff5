using Ganss.Xss;
using Markdig;
using Microsoft.AspNetCore.Components;

namespace EvalPlatform.Web.Traces;

/// <summary>
/// Renders untrusted trace text (prompts, responses) as Markdown. Raw HTML in the text is
/// escaped by Markdig, and the produced HTML goes through an allow-list sanitiser as well, so no
/// script, event handler or javascript: link from a trace can ever run in a reviewer's page.
/// </summary>
public sealed class MarkdownRenderer
{
    private static readonly MarkdownPipeline Pipeline = new MarkdownPipelineBuilder()
        .DisableHtml()
        .UsePipeTables()
        .UseEmphasisExtras()
        .UseAutoLinks()
        .UseTaskLists()
        .Build();

    private readonly HtmlSanitizer _sanitizer;

    public MarkdownRenderer()
    {
        _sanitizer = new HtmlSanitizer();
        _sanitizer.AllowedSchemes.Clear();
        _sanitizer.AllowedSchemes.Add("https");
        _sanitizer.AllowedSchemes.Add("http");
        _sanitizer.AllowedSchemes.Add("mailto");
        _sanitizer.AllowedAttributes.Remove("style");
        _sanitizer.AllowedTags.Remove("img");
        _sanitizer.PostProcessNode += (_, e) =>
        {
            // Links in a trace leave the app in a new tab and pass nothing to the target.
            if (e.Node is AngleSharp.Dom.IElement { TagName: "A" } link)
            {
                link.SetAttribute("target", "_blank");
                link.SetAttribute("rel", "noopener noreferrer nofollow");
            }
        };
    }

    public MarkupString Render(string? markdown) =>
        string.IsNullOrEmpty(markdown) ? default : new MarkupString(_sanitizer.Sanitize(Markdown.ToHtml(markdown, Pipeline)));
}
