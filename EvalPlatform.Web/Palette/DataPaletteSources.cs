using EvalPlatform.Core.Palette;
using EvalPlatform.Core.Teams;
using EvalPlatform.Core.Traces.Views;
using EvalPlatform.Web.Components.Layout;
using MudBlazor;

namespace EvalPlatform.Web.Palette;

/// <summary>A trace by its id or exact external id.</summary>
public sealed class TracesPaletteSource(PaletteQueries queries) : IPaletteSource
{
    public int Order => 10;

    public async Task<IReadOnlyList<PaletteItem>> SearchAsync(string term, CurrentTeam current, CancellationToken ct) =>
        term.Length == 0 || !current.Can(Permission.ViewTraces)
            ? []
            : (await queries.TracesAsync(term, ct: ct))
                .Select(h => new PaletteItem("Trace", h.Title, h.Detail, $"/traces/{h.Id}", Icons.Material.Filled.Timeline)).ToList();
}

/// <summary>Review queues by a part of their name.</summary>
public sealed class QueuesPaletteSource(PaletteQueries queries) : IPaletteSource
{
    public int Order => 20;

    public async Task<IReadOnlyList<PaletteItem>> SearchAsync(string term, CurrentTeam current, CancellationToken ct) =>
        term.Length == 0 || !current.Can(Permission.ViewTraces)
            ? []
            : (await queries.QueuesAsync(term, ct: ct))
                .Select(h => new PaletteItem("Queue", h.Title, null, $"/review/{h.Id}", Icons.Material.Filled.Queue)).ToList();
}

/// <summary>Experiments by a part of their name or key.</summary>
public sealed class ExperimentsPaletteSource(PaletteQueries queries) : IPaletteSource
{
    public int Order => 30;

    public async Task<IReadOnlyList<PaletteItem>> SearchAsync(string term, CurrentTeam current, CancellationToken ct) =>
        term.Length == 0 || !current.Can(Permission.ViewTraces)
            ? []
            : (await queries.ExperimentsAsync(term, ct: ct))
                .Select(h => new PaletteItem("Experiment", h.Title, h.Detail, $"/experiments/{Uri.EscapeDataString(h.Key ?? "")}", Icons.Material.Filled.Science)).ToList();
}

/// <summary>Evaluators (LLM judges) by a part of their name.</summary>
public sealed class EvaluatorsPaletteSource(PaletteQueries queries) : IPaletteSource
{
    public int Order => 40;

    public async Task<IReadOnlyList<PaletteItem>> SearchAsync(string term, CurrentTeam current, CancellationToken ct) =>
        term.Length == 0 || !current.Can(Permission.ViewTraces)
            ? []
            : (await queries.EvaluatorsAsync(term, ct: ct))
                .Select(h => new PaletteItem("Evaluator", h.Title, h.Detail, $"/evaluators/{h.Id}", Icons.Material.Filled.Gavel)).ToList();
}

/// <summary>Saved views of the trace list (the team's shared ones and the reader's own) by a part of their name.</summary>
public sealed class SavedViewsPaletteSource(SavedViewService views) : IPaletteSource
{
    public int Order => 15;

    public async Task<IReadOnlyList<PaletteItem>> SearchAsync(string term, CurrentTeam current, CancellationToken ct)
    {
        if (term.Length == 0 || !current.Can(Permission.ViewTraces))
        {
            return [];
        }

        // A person keeps at most SavedViewService.MaxViewsPerOwner views: the list is small enough to match here.
        return (await views.ListAsync(ct))
            .Where(v => v.Name.Contains(term, StringComparison.OrdinalIgnoreCase))
            .Take(PaletteQueries.DefaultLimit)
            .Select(v => new PaletteItem("View", v.Name, v.Shared ? "shared view" : "your view", $"/traces?view={v.Id}",
                v.Shared ? Icons.Material.Filled.Group : Icons.Material.Filled.Bookmarks))
            .ToList();
    }
}

public static class PaletteServiceCollectionExtensions
{
    /// <summary>The palette's own sources; other features add theirs with another <c>AddScoped&lt;IPaletteSource, T&gt;()</c>.</summary>
    public static IServiceCollection AddPaletteSources(this IServiceCollection services)
    {
        services.AddScoped<IPaletteSource, PagesPaletteSource>();
        services.AddScoped<IPaletteSource, TracesPaletteSource>();
        services.AddScoped<IPaletteSource, SavedViewsPaletteSource>();
        services.AddScoped<IPaletteSource, QueuesPaletteSource>();
        services.AddScoped<IPaletteSource, ExperimentsPaletteSource>();
        services.AddScoped<IPaletteSource, EvaluatorsPaletteSource>();
        return services;
    }
}
