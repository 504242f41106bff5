using System.Text.RegularExpressions;
using EvalPlatform.Core.Common;

namespace EvalPlatform.Core.Playground;

/// <summary>
/// <c>{{name}}</c> placeholders in a prompt's texts: names are letters, digits, <c>_</c>, <c>-</c> and <c>.</c>, starting
/// with a letter or <c>_</c>; spaces inside the braces are allowed (<c>{{ name }}</c>). Anything else in braces is text.
/// </summary>
public static partial class PromptVariables
{
    public const int MaxVariables = 50;
    public const int MaxValueLength = 100_000;

    [GeneratedRegex(@"\{\{\s*([A-Za-z_][A-Za-z0-9_.\-]{0,63})\s*\}\}", RegexOptions.CultureInvariant)]
    private static partial Regex Placeholder();

    /// <summary>The names used in <paramref name="texts"/>, each once, in order of first use.</summary>
    public static IReadOnlyList<string> Find(IEnumerable<string?> texts)
    {
        ArgumentNullException.ThrowIfNull(texts);
        var names = new List<string>();
        foreach (var text in texts)
        {
            if (string.IsNullOrEmpty(text))
            {
                continue;
            }

            foreach (Match m in Placeholder().Matches(text))
            {
                var name = m.Groups[1].Value;
                if (!names.Contains(name, StringComparer.Ordinal))
                {
                    names.Add(name);
                }
            }
        }

        return names;
    }

    /// <summary>The names a prompt uses (system prompt first, then the messages in order).</summary>
    public static IReadOnlyList<string> Find(PlaygroundPrompt prompt)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        return Find(new[] { prompt.System }.Concat(prompt.Messages.Select(m => m.Content)));
    }

    /// <summary>
    /// <paramref name="text"/> with every placeholder replaced by its value. A name without a value is refused (the error
    /// names <c>variables.{name}</c>); an empty value is a value.
    /// </summary>
    public static string Fill(string text, IReadOnlyDictionary<string, string>? values)
    {
        ArgumentNullException.ThrowIfNull(text);
        return Placeholder().Replace(text, m =>
        {
            var name = m.Groups[1].Value;
            return values is not null && values.TryGetValue(name, out var value)
                ? value
                : throw new DomainValidationException($"variables.{name}", $"The variable '{name}' has no value.");
        });
    }
}
