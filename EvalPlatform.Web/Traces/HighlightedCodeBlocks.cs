using ColorCode;
using Markdig;
using Markdig.Renderers;
using Markdig.Renderers.Html;
using Markdig.Syntax;

namespace EvalPlatform.Web.Traces;

/// <summary>
/// Fenced code blocks with a known language (```python, ```json, ```sql…) are coloured on the
/// server as spans with classes; the sanitiser keeps the classes, app.css colours them in both
/// themes. Unknown languages fall back to a plain block.
/// </summary>
internal sealed class HighlightedCodeBlocks : IMarkdownExtension
{
    /// <summary>The classes the highlighter writes that app.css colours; the sanitiser allows these and no others.</summary>
    public static readonly string[] Classes =
    [
        "code-highlight", "keyword", "controlKeyword", "preprocessorKeyword", "jsonKey", "string", "jsonString", "stringCSharpVerbatim",
        "comment", "xmlDocComment", "number", "jsonNumber", "jsonConst", "builtinValue", "type", "className", "builtinFunction", "attribute",
    ];

    public void Setup(MarkdownPipelineBuilder pipeline)
    {
    }

    public void Setup(MarkdownPipeline pipeline, IMarkdownRenderer renderer)
    {
        if (renderer is HtmlRenderer html && html.ObjectRenderers.FindExact<CodeBlockRenderer>() is { } plain)
        {
            html.ObjectRenderers.Replace<CodeBlockRenderer>(new Renderer(plain));
        }
    }

    private sealed class Renderer(CodeBlockRenderer plain) : HtmlObjectRenderer<CodeBlock>
    {
        private readonly HtmlClassFormatter _formatter = new();

        protected override void Write(HtmlRenderer renderer, CodeBlock block)
        {
            var language = block is FencedCodeBlock { Info: { Length: > 0 } info } ? Languages.FindById(info.Trim().ToLowerInvariant()) : null;
            if (language is null)
            {
                plain.Write(renderer, block);
                return;
            }

            var code = string.Join('\n', block.Lines.Lines.Take(block.Lines.Count).Select(l => l.Slice.ToString()));
            renderer.Write("<div class=\"code-highlight\">").Write(_formatter.GetHtmlString(code, language)).Write("</div>");
        }
    }
}
