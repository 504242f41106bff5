using System.Diagnostics;
using EvalPlatform.Core.Common;
using EvalPlatform.Core.Playground;
using EvalPlatform.Core.Queues;
using EvalPlatform.Core.Teams;
using EvalPlatform.Web.Components.Layout;
using EvalPlatform.Web.Playground;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Web;
using MudBlazor;

namespace EvalPlatform.Web.Components.Pages.Playground;

/// <summary>
/// <c>/playground</c> (and <c>/playground?trace={id}</c>, "Open in playground"): the prompt, its variables and 1–4 model
/// configurations; a run streams every column at once through <see cref="PlaygroundService"/> (the page only renders),
/// repainting at most every <see cref="RepaintEvery"/> while text arrives; results can be saved as traces and sent to a queue.
/// </summary>
public sealed partial class PlaygroundPage
{
    private static readonly TimeSpan RepaintEvery = TimeSpan.FromMilliseconds(50);

    [CascadingParameter]
    public CurrentTeam Current { get; set; } = default!;

    [SupplyParameterFromQuery(Name = "trace")]
    public Guid? TraceId { get; set; }

    /// <summary>The playground batch shown under "Run over traces" (ADR 44).</summary>
    [SupplyParameterFromQuery(Name = "batch")]
    public Guid? BatchId { get; set; }

    private bool _canUse;
    private IReadOnlyList<PlaygroundConnection>? _connections;
    private IReadOnlyList<QueueOverview>? _queues;
    private string? _loadError;

    private string? _system;
    private readonly List<PlaygroundMessageRow> _messages = [];
    private readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);
    private IReadOnlyDictionary<string, string> _traceValues = new Dictionary<string, string>();
    private readonly List<PlaygroundConfigRow> _configs = [];
    private int _nextKey;
    private Guid? _originalTraceId;
    private string? _originalAnswer;

    private List<PlaygroundColumnState>? _columns;
    private PlaygroundPrompt? _runPrompt;
    private List<PlaygroundConfig>? _runConfigs;
    private CancellationTokenSource? _cancel;
    private bool _running;
    private bool _busy;
    private DomainValidationException? _invalid;
    private string? _problem;
    private Guid? _queueId;

    private IReadOnlyList<string> VariableNames =>
        PromptVariables.Find(new[] { _system }.Concat(_messages.Select(m => m.Content)));

    protected override async Task OnInitializedAsync()
    {
        _canUse = Current.Can(Permission.UsePlayground);
        if (!_canUse)
        {
            return;
        }

        _connections = await Playground.ConnectionsAsync();
        _queues = (await Queues.ListAsync()).Where(q => q.CanReview).ToList();
        if (TraceId is { } traceId)
        {
            try
            {
                Open(await Loader.LoadAsync(traceId));
            }
            catch (NotFoundException)
            {
                _loadError = $"This trace does not exist in {Current.Active.TeamName}.";
            }
        }

        if (_messages.Count == 0)
        {
            AddMessage();
        }

        if (_configs.Count == 0)
        {
            AddConfig();
        }
    }

    private void Open(PlaygroundStart start)
    {
        _originalTraceId = start.TraceId;
        _originalAnswer = start.Answer;
        _system = start.System;
        foreach (var m in start.Messages)
        {
            _messages.Add(new PlaygroundMessageRow { Key = _nextKey++, Role = m.Role, Content = m.Content });
        }

        _traceValues = start.Values;
        _configs.Add(new PlaygroundConfigRow
        {
            Key = _nextKey++, ConnectionId = start.ConnectionId ?? (_connections is { Count: > 0 } all ? all[0].Id : null), Model = start.Model ?? "",
            Temperature = start.Temperature, MaxTokens = start.MaxTokens,
        });
    }

    private void AddMessage()
    {
        // Turns alternate: after a user message comes the assistant's, and back.
        var role = _messages.Count > 0 && _messages[^1].Role == "user" ? "assistant" : "user";
        _messages.Add(new PlaygroundMessageRow { Key = _nextKey++, Role = role });
    }

    private void AddConfig()
    {
        // Each new configuration starts on the next connection, so two side by side compare providers by default.
        var connections = _connections ?? [];
        var connection = connections.Count == 0 ? (Guid?)null : connections[_configs.Count % connections.Count].Id;
        _configs.Add(new PlaygroundConfigRow { Key = _nextKey++, ConnectionId = connection });
    }

    private string? Invalid(string field) => _invalid?.Field == field ? _invalid.Message : null;

    // A batch is refused on the same fields as a run: the page marks them the same way.
    private void OnBatchInvalid(DomainValidationException? e) => _invalid = e;

    private List<PlaygroundConfig> CurrentConfigs() => _configs.Select(c => c.ToConfig()).ToList();

    private PlaygroundPrompt CurrentPrompt()
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var name in VariableNames)
        {
            values[name] = ValueOf(name);
        }

        return new PlaygroundPrompt(_system, _messages.Select(m => new PlaygroundMessage(m.Role, m.Content)).ToList(), values);
    }

    /// <summary>A variable's value: typed, else what the opened trace carries under its name, else empty.</summary>
    private string ValueOf(string name) => _values.TryGetValue(name, out var typed) ? typed : _traceValues.GetValueOrDefault(name) ?? "";

    private async Task OnKeyDownAsync(KeyboardEventArgs e)
    {
        if ((e.CtrlKey || e.MetaKey) && e.Key == "Enter")
        {
            await RunAsync();
        }
        else if (e.Key == "Escape" && _running)
        {
            Cancel();
        }
    }

    private async Task RunAsync()
    {
        if (_running)
        {
            return;
        }

        _invalid = null;
        _problem = null;
        var missing = _configs.FindIndex(c => c.ConnectionId is null);
        if (missing >= 0)
        {
            _invalid = new DomainValidationException($"configs[{missing}].connection_id", "Pick a connection.");
            return;
        }

        var prompt = CurrentPrompt();
        var configs = _configs.Select(c => c.ToConfig()).ToList();
        var names = _connections!.ToDictionary(c => c.Id, c => c.Name);
        _columns = configs.Select((c, i) => new PlaygroundColumnState { Label = $"{i + 1} · {names.GetValueOrDefault(c.ConnectionId)}", Model = c.Model }).ToList();
        _runPrompt = prompt;
        _runConfigs = configs;
        _running = true;
        _cancel = new CancellationTokenSource();
        var painted = Stopwatch.GetTimestamp();
        try
        {
            await foreach (var update in Playground.RunAsync(prompt, configs, _cancel.Token))
            {
                var column = _columns[update.Column];
                column.Text.Append(update.TextDelta);
                if (update.Result is { } result)
                {
                    column.Result = result;
                }

                if (update.Result is not null || Stopwatch.GetElapsedTime(painted) >= RepaintEvery)
                {
                    painted = Stopwatch.GetTimestamp();
                    StateHasChanged();
                }
            }
        }
        catch (DomainValidationException e)
        {
            _invalid = e;
            _columns = null;
        }
        catch (PermissionDeniedException e)
        {
            _problem = e.Message;
            _columns = null;
        }
        finally
        {
            _running = false;
            _cancel?.Dispose();
            _cancel = null;
        }
    }

    private void Cancel() => _cancel?.Cancel();

    private async Task SaveAsync()
    {
        if (_columns is null || _runPrompt is null || _runConfigs is null)
        {
            return;
        }

        _busy = true;
        _problem = null;
        try
        {
            var items = _columns.Select((c, i) => c.Result is { } r && c.SavedTraceId is null ? new PlaygroundSaveItem(i, _runConfigs[i], r) : null)
                .OfType<PlaygroundSaveItem>().ToList();
            var ids = await Playground.SaveAsync(_runPrompt, items, _originalTraceId);
            for (var i = 0; i < items.Count; i++)
            {
                _columns[items[i].Column].SavedTraceId = ids[i];
            }

            var saved = ids.Count(id => id is not null);
            Snackbar.Add(saved == items.Count ? $"Saved {saved} trace(s), tagged playground" : $"Saved {saved} of {items.Count} trace(s)",
                saved == items.Count ? Severity.Success : Severity.Warning);
        }
        catch (Exception e) when (e is DomainValidationException or NotFoundException or PermissionDeniedException)
        {
            _problem = e.Message;
        }
        finally
        {
            _busy = false;
        }
    }

    private async Task SendToQueueAsync()
    {
        if (_columns is null || _queueId is not { } queueId)
        {
            return;
        }

        _busy = true;
        _problem = null;
        try
        {
            var ids = _columns.Select(c => c.SavedTraceId).OfType<Guid>().ToList();
            var added = await Queues.AddTracesAsync(queueId, ids);
            var name = _queues?.FirstOrDefault(q => q.Queue.Id == queueId)?.Queue.Name;
            Snackbar.Add(added == ids.Count ? $"Sent {added} trace(s) to {name}" : $"Sent {added} trace(s) to {name}; {ids.Count - added} were in it already", Severity.Success);
        }
        catch (Exception e) when (e is DomainValidationException or NotFoundException or PermissionDeniedException)
        {
            _problem = e.Message;
        }
        finally
        {
            _busy = false;
        }
    }

    // Leaving the page stops its streams; the run's own finally disposes the source.
    public void Dispose() => _cancel?.Cancel();
}
