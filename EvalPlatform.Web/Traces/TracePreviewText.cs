using System.Text.RegularExpressions;
using Markdig;

namespace EvalPlatform.Web.Traces;

/// <summary>
/// A list preview as plain text: the Markdown a model answered in ("**bold**", "# Title", "- item", code fences) becomes
/// its words on one line, so a row reads as text instead of raw markup. Rendered as text (escaped), never as HTML.
/// </summary>
public static partial class TracePreviewText
{
    private static readonly MarkdownPipeline Pipeline = new MarkdownPipelineBuilder().DisableHtml().UseEmphasisExtras().UsePipeTables().Build();

    public static string? Plain(string? markdown)
    {
        if (string.IsNullOrWhiteSpace(markdown))
        {
            return markdown;
        }

        string text;
        try
        {
            text = Markdown.ToPlainText(markdown, Pipeline);
        }
        catch (ArgumentException)
        {
            text = markdown;
        }

        // Previews are stored on one line, so a list's "- item" or a heading's "##" is no longer Markdown to Markdig: drop
        // standalone markers (a lone "-", "*", "+", "#"…), which prose rarely needs.
        return Whitespace().Replace(LooseMarker().Replace(text, " "), " ").Trim();
    }

    [GeneratedRegex(@"(?<=^|\s)(?:[-*+>]|#{1,6})(?=\s|$)")]
    private static partial Regex LooseMarker();

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();
}
