using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace EvalPlatform.Tests.Infrastructure;

/// <summary>
/// A Redis server of the test's own (Debian's <c>redis-server</c>, the one <c>scripts/test.sh</c> installs) on a free
/// loopback port, without persistence, so a test can kill it and start it again on the same port without touching the
/// shared test Redis.
/// </summary>
public sealed class PrivateRedis : IAsyncDisposable
{
    private Process? _process;

    private PrivateRedis(int port) => Port = port;

    public int Port { get; }

    public string ConnectionString => $"127.0.0.1:{Port}";

    public static async Task<PrivateRedis> StartAsync()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var redis = new PrivateRedis(port);
        await redis.StartAgainAsync();
        return redis;
    }

    /// <summary>Starts the server (again) on its port and waits until it answers.</summary>
    public async Task StartAgainAsync()
    {
        var info = new ProcessStartInfo(File.Exists("/usr/bin/redis-server") ? "/usr/bin/redis-server" : "redis-server")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[] { "--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no" })
        {
            info.ArgumentList.Add(argument);
        }

        _process = Process.Start(info) ?? throw new InvalidOperationException("redis-server did not start (is it installed? scripts/test.sh installs it).");
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        await Wait.UntilAsync(async () =>
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, Port);
                return true;
            }
            catch (SocketException) when (!_process.HasExited)
            {
                return false;
            }
        }, "redis-server to listen", TimeSpan.FromSeconds(20));
    }

    /// <summary>SIGKILL, as a crashed or unplugged Redis: clients see their connections drop.</summary>
    public async Task KillAsync()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        _process?.Dispose();
    }
}
