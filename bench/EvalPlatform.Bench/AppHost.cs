using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace EvalPlatform.Bench;

/// <summary>
/// The real app as a child process (<c>dotnet EvalPlatform.Web.dll</c>) on a free loopback port,
/// plus its admin commands. Disposing kills the process (by its own pid) if it is still running.
/// </summary>
internal sealed class AppHost : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StreamWriter _log;
    private readonly string _logPath;

    private AppHost(Process process, StreamWriter log, string logPath, Uri baseAddress)
    {
        _process = process;
        _log = log;
        _logPath = logPath;
        BaseAddress = baseAddress;
    }

    public Uri BaseAddress { get; }

    public int ProcessId => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>How the app ended, for the report (exit 137 = SIGKILL, 143 = SIGTERM).</summary>
    public string ExitDescription => _process.HasExited
        ? $"exit code {_process.ExitCode} at {_process.ExitTime:HH:mm:ss.fff}"
        : "running";

    /// <summary>The app's environment: the bench database and Redis, quiet logs, production.</summary>
    public static Dictionary<string, string> Environment(string postgres, string redis) => new()
    {
        ["ConnectionStrings__Postgres"] = postgres,
        ["ConnectionStrings__Redis"] = redis,
        ["Logging__LogLevel__Default"] = "Warning",
        ["Logging__LogLevel__Microsoft.AspNetCore"] = "Warning",
        ["ASPNETCORE_ENVIRONMENT"] = "Production",
        ["DOTNET_ENVIRONMENT"] = "Production",
    };

    public static async Task<AppHost> StartAsync(string webDll, Dictionary<string, string> environment, string logPath, CancellationToken ct)
    {
        var port = FreeLoopbackPort();
        var start = NewStartInfo(webDll, environment, []);
        start.Environment["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}";
        var log = new StreamWriter(logPath, append: false, Encoding.UTF8) { AutoFlush = true };
        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        process.OutputDataReceived += (_, e) => Append(log, e.Data);
        process.ErrorDataReceived += (_, e) => Append(log, e.Data);
        if (!process.Start())
        {
            await log.DisposeAsync();
            process.Dispose();
            throw new InvalidOperationException($"Could not start dotnet {webDll}");
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var host = new AppHost(process, log, logPath, new Uri($"http://127.0.0.1:{port}/"));
        try
        {
            await host.WaitReadyAsync(TimeSpan.FromSeconds(90), ct);
        }
        catch
        {
            await host.DisposeAsync();
            throw;
        }

        return host;
    }

    /// <summary>Runs <c>dotnet EvalPlatform.Web.dll admin ...</c>; returns stdout, throws with stderr on failure.</summary>
    public static async Task<string> AdminAsync(string webDll, Dictionary<string, string> environment, string[] args, string? stdin, CancellationToken ct)
    {
        var start = NewStartInfo(webDll, environment, ["admin", .. args]);
        start.RedirectStandardInput = true;
        using var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start the admin command");
        var stdout = process.StandardOutput.ReadToEndAsync(ct);
        var stderr = process.StandardError.ReadToEndAsync(ct);
        if (stdin is not null)
        {
            await process.StandardInput.WriteLineAsync(stdin);
        }

        process.StandardInput.Close();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(120));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"admin {args[0]} did not finish within 120 s");
        }

        var output = await stdout;
        var error = await stderr;
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"admin {args[0]} exited {process.ExitCode}: {error.Trim()}");
        }

        return output;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(15));
                await _process.WaitForExitAsync(wait.Token);
            }
        }
        catch (Exception e) when (e is InvalidOperationException or OperationCanceledException or System.ComponentModel.Win32Exception)
        {
            await Console.Error.WriteLineAsync($"bench: could not stop the app (pid {_process.Id}): {e.Message}");
        }

        _process.Dispose();
        await _log.DisposeAsync();
    }

    /// <summary>The last lines the app logged, for error messages.</summary>
    public string LogTail(int lines = 30)
    {
        try
        {
            using var stream = new FileStream(_logPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            using var reader = new StreamReader(stream);
            var all = reader.ReadToEnd().Split('\n');
            return string.Join('\n', all.TakeLast(lines));
        }
        catch (IOException e)
        {
            return $"(cannot read {_logPath}: {e.Message})";
        }
    }

    private async Task WaitReadyAsync(TimeSpan limit, CancellationToken ct)
    {
        using var http = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(5) };
        var deadline = Stopwatch.GetTimestamp() + (long)(limit.TotalSeconds * Stopwatch.Frequency);
        var last = "no answer yet";
        while (Stopwatch.GetTimestamp() < deadline)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"The app exited with code {_process.ExitCode} before it was ready. Its log ({_logPath}):\n{LogTail()}");
            }

            try
            {
                using var response = await http.GetAsync(new Uri("health/ready", UriKind.Relative), ct);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }

                last = $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(ct)}";
            }
            catch (HttpRequestException e)
            {
                last = e.Message;
            }
            catch (TaskCanceledException) when (!ct.IsCancellationRequested)
            {
                last = "timed out";
            }

            await Task.Delay(250, ct);
        }

        throw new TimeoutException($"/health/ready did not answer 200 within {limit.TotalSeconds:0} s (last: {last}). Log ({_logPath}):\n{LogTail()}");
    }

    private static ProcessStartInfo NewStartInfo(string webDll, Dictionary<string, string> environment, string[] args)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = Path.GetDirectoryName(webDll)!,
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.ArgumentList.Add(webDll);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        return start;
    }

    private static void Append(StreamWriter log, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (log)
        {
            log.WriteLine(line);
        }
    }

    private static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
