using Ganss.Xss;
using Markdig;
using Microsoft.AspNetCore.Components;

namespace EvalPlatform.Web.Traces;

/// <summary>
/// Renders untrusted trace text (prompts, responses) as Markdown. Raw HTML in the text is
/// escaped by Markdig, and the produced HTML goes through an allow-list sanitiser as well, so no
/// script, event handler or javascript: link from a trace can ever run in a reviewer's page.
/// Code blocks in a known language are coloured (<see cref="HighlightedCodeBlocks"/>).
/// </summary>
public sealed class MarkdownRenderer
{
    private static readonly MarkdownPipeline Pipeline = new MarkdownPipelineBuilder()
        .DisableHtml()
        .UsePipeTables()
        .UseEmphasisExtras()
        .UseAutoLinks()
        .UseTaskLists()
        .Use<HighlightedCodeBlocks>()
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
        // Classes only from the highlighter's small vocabulary: a trace cannot borrow the app's own classes.
        _sanitizer.AllowedAttributes.Add("class");
        foreach (var name in HighlightedCodeBlocks.Classes)
        {
            _sanitizer.AllowedClasses.Add(name);
        }
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
