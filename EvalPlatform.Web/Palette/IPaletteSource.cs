using EvalPlatform.Web.Components.Layout;

namespace EvalPlatform.Web.Palette;

/// <summary>One line of the command palette: what it says, where Enter leads, and what kind of thing it is.</summary>
public sealed record PaletteItem(string Kind, string Title, string? Detail, string Href, string Icon);

/// <summary>
/// Something the command palette (Ctrl+K) searches: pages, traces, queues, experiments, evaluators. A feature adds its
/// own by registering another implementation (<c>services.AddScoped&lt;IPaletteSource, MySource&gt;()</c>); the palette
/// lists the sources' answers in <see cref="Order"/>. Each source shows only what the member may open.
/// </summary>
public interface IPaletteSource
{
    /// <summary>Where this source's lines go in the list, lowest first (pages 0, traces 10, queues 20, ...).</summary>
    int Order { get; }

    /// <summary>
    /// The lines for <paramref name="term"/> (already trimmed; empty when nothing is typed yet, when most sources answer
    /// nothing).
    /// </summary>
    Task<IReadOnlyList<PaletteItem>> SearchAsync(string term, CurrentTeam current, CancellationToken ct);
}
