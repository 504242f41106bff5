using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace EvalPlatform.Tests.Infrastructure;

/// <summary>
/// A loopback TCP relay in front of a service (PostgreSQL here) that a test can take down and bring back on the same
/// port, as a restart looks to a client: <see cref="GoDown"/> resets every open connection and refuses new ones
/// (nothing listens), <see cref="ComeBack"/> listens again. The service itself, shared by the other tests, is untouched.
/// </summary>
public sealed class OutageProxy : IAsyncDisposable
{
    private readonly IPEndPoint _target;
    private readonly ConcurrentDictionary<Socket, byte> _open = new();
    private readonly CancellationTokenSource _stopped = new();
    private TcpListener? _listener;
    private Task _accepting = Task.CompletedTask;

    private OutageProxy(IPEndPoint target, int port)
    {
        _target = target;
        Port = port;
    }

    public int Port { get; }

    public static OutageProxy Start(string targetHost, int targetPort)
    {
        var address = IPAddress.TryParse(targetHost, out var ip) ? ip : Dns.GetHostAddresses(targetHost).First(a => a.AddressFamily == AddressFamily.InterNetwork);
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        var proxy = new OutageProxy(new IPEndPoint(address, targetPort), port);
        proxy.ComeBack();
        return proxy;
    }

    /// <summary>Listens (again) on <see cref="Port"/> and relays each connection to the service.</summary>
    public void ComeBack()
    {
        var listener = new TcpListener(IPAddress.Loopback, Port);
        listener.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        listener.Start();
        _listener = listener;
        _accepting = AcceptAsync(listener);
    }

    /// <summary>Stops listening (new connections are refused) and resets every relayed connection.</summary>
    public void GoDown()
    {
        _listener?.Stop();
        _listener = null;
        foreach (var socket in _open.Keys)
        {
            Reset(socket);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stopped.CancelAsync();
        GoDown();
        try
        {
            await _accepting;
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
        {
            // Stopped.
        }

        _stopped.Dispose();
    }

    private async Task AcceptAsync(TcpListener listener)
    {
        while (!_stopped.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await listener.AcceptSocketAsync(_stopped.Token);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException or InvalidOperationException)
            {
                return;
            }

            _ = RelayAsync(client);
        }
    }

    private async Task RelayAsync(Socket client)
    {
        var server = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _open[client] = 0;
        _open[server] = 0;
        try
        {
            await server.ConnectAsync(_target, _stopped.Token);
            await Task.WhenAny(PumpAsync(client, server), PumpAsync(server, client));
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
        {
            // The outage, or the end of the test.
        }
        finally
        {
            Reset(client);
            Reset(server);
        }
    }

    private async Task PumpAsync(Socket from, Socket to)
    {
        var buffer = new byte[16 * 1024];
        try
        {
            while (true)
            {
                var read = await from.ReceiveAsync(buffer, SocketFlags.None, _stopped.Token);
                if (read == 0)
                {
                    return;
                }

                await to.SendAsync(buffer.AsMemory(0, read), SocketFlags.None, _stopped.Token);
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
        {
            // Reset by the outage.
        }
    }

    private void Reset(Socket socket)
    {
        if (_open.TryRemove(socket, out _))
        {
            try
            {
                socket.LingerState = new LingerOption(true, 0);
                socket.Close();
            }
            catch (ObjectDisposedException)
            {
                // Already gone.
            }
        }
    }
}
