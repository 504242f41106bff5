using System.Text;

namespace EvalPlatform.Core.Providers.Proxy;

/// <summary>One server-sent event: its <c>event:</c> name (null when absent) and its <c>data:</c> lines joined by newlines.</summary>
public readonly record struct SseEvent(string? Name, string Data);

/// <summary>
/// Reads server-sent events from bytes as they arrive, in pieces of any size (a piece may end inside a line or inside a
/// UTF-8 character): the tee beside the proxy's pass-through. Follows the WHATWG event-stream rules the providers use:
/// lines end in LF, CRLF or CR; <c>event</c> and <c>data</c> fields; a blank line dispatches; comments and other fields are
/// ignored.
/// </summary>
public sealed class SseReader
{
    private readonly List<byte> _line = new(256);
    private readonly StringBuilder _data = new();
    private string? _event;
    private bool _hasData;
    private bool _lastWasCr;

    /// <summary>Feeds bytes; returns the events they completed, in order.</summary>
    public IReadOnlyList<SseEvent> Feed(ReadOnlySpan<byte> bytes)
    {
        List<SseEvent>? events = null;
        foreach (var b in bytes)
        {
            if (b == (byte)'\n' && _lastWasCr)
            {
                _lastWasCr = false;
                continue;
            }

            _lastWasCr = b == (byte)'\r';
            if (b is (byte)'\n' or (byte)'\r')
            {
                if (EndLine() is { } e)
                {
                    (events ??= []).Add(e);
                }
            }
            else
            {
                _line.Add(b);
            }
        }

        return events ?? (IReadOnlyList<SseEvent>)[];
    }

    /// <summary>The event left without its closing blank line when the stream ended, if any.</summary>
    public SseEvent? Finish()
    {
        if (_line.Count > 0)
        {
            EndLine();
        }

        return _hasData ? Dispatch() : null;
    }

    private SseEvent? EndLine()
    {
        if (_line.Count == 0)
        {
            return _hasData ? Dispatch() : ResetEvent();
        }

        var line = Encoding.UTF8.GetString(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_line));
        _line.Clear();
        if (line[0] == ':')
        {
            return null;
        }

        var colon = line.IndexOf(':', StringComparison.Ordinal);
        var field = colon < 0 ? line : line[..colon];
        var value = colon < 0 ? "" : line[(colon + 1)..];
        if (value.StartsWith(' '))
        {
            value = value[1..];
        }

        switch (field)
        {
            case "event":
                _event = value;
                break;
            case "data":
                if (_hasData)
                {
                    _data.Append('\n');
                }

                _data.Append(value);
                _hasData = true;
                break;
        }

        return null;
    }

    private SseEvent Dispatch()
    {
        var e = new SseEvent(_event, _data.ToString());
        _data.Clear();
        _hasData = false;
        _event = null;
        return e;
    }

    private SseEvent? ResetEvent()
    {
        _event = null;
        return null;
    }
}
