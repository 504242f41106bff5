namespace EvalPlatform.Web.Reviews;

/// <summary>
/// Hands the page's shortcut keys to an open dialog (the reject dialog's 1–9). Keys pressed before
/// the dialog has rendered and subscribed are kept and delivered on subscription, so a fast
/// "R then 1" never loses the 1.
/// </summary>
public sealed class ShortcutRelay
{
    private readonly List<string> _pending = [];
    private Func<string, Task>? _handler;

    public async Task SendAsync(string key)
    {
        if (_handler is { } handler)
        {
            await handler(key);
        }
        else
        {
            _pending.Add(key);
        }
    }

    /// <summary>Receives keys from now on, starting with any that arrived before.</summary>
    public async Task SubscribeAsync(Func<string, Task> handler)
    {
        _handler = handler;
        var pending = _pending.ToList();
        _pending.Clear();
        foreach (var key in pending)
        {
            await handler(key);
        }
    }

    public void Unsubscribe() => _handler = null;
}
