using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace EvalPlatform.Tests.Infrastructure;

/// <summary>The built app serving on a loopback port as its own process, so a test can kill it outright.</summary>
public sealed class ServerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private ServerProcess(Process process, Uri address)
    {
        _process = process;
        Address = address;
    }

    public Uri Address { get; }

    /// <summary>What the process printed so far (for failure messages).</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public static async Task<ServerProcess> StartAsync(IDictionary<string, string> environment, TimeSpan? timeout = null)
    {
        var port = FreePort();
        var info = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = AppContext.BaseDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "EvalPlatform.Web.dll"));
        info.Environment["ConnectionStrings__Postgres"] = "";
        info.Environment["ConnectionStrings__Redis"] = "";
        // Its own scheduler unless the test says otherwise: processes on one database never run each other's jobs.
        info.Environment["Jobs__SchedulerName"] = $"EvalTest-{Guid.NewGuid():N}";
        info.Environment["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}";
        info.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        foreach (var (key, value) in environment)
        {
            info.Environment[key] = value;
        }

        var server = new ServerProcess(Process.Start(info)!, new Uri($"http://127.0.0.1:{port}"));
        server._process.OutputDataReceived += (_, e) => server.Append(e.Data);
        server._process.ErrorDataReceived += (_, e) => server.Append(e.Data);
        server._process.BeginOutputReadLine();
        server._process.BeginErrorReadLine();

        using var http = new HttpClient { BaseAddress = server.Address, Timeout = TimeSpan.FromSeconds(2) };
        async Task<bool> ReadyAsync()
        {
            if (server._process.HasExited)
            {
                throw new InvalidOperationException($"The app exited with {server._process.ExitCode}: {server.Output}");
            }

            try
            {
                return (await http.GetAsync("/health/ready")).IsSuccessStatusCode;
            }
            catch (HttpRequestException)
            {
                return false; // Not listening yet.
            }
            catch (TaskCanceledException)
            {
                return false; // Listening but slow to answer while starting.
            }
        }

        try
        {
            await Wait.UntilAsync(ReadyAsync, "the app to be ready", timeout ?? TimeSpan.FromSeconds(60), () => server.Output);
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>SIGKILL: no shutdown hooks, no draining; what was not committed is gone.</summary>
    public async Task KillAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        await _process.WaitForExitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        _process.Dispose();
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
