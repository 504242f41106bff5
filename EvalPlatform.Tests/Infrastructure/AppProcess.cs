using System.Diagnostics;

namespace EvalPlatform.Tests.Infrastructure;

/// <summary>Runs the built app as its own process, as an operator or a container would.</summary>
public static class AppProcess
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr);

    public static async Task<Result> RunAsync(IEnumerable<string> args, IDictionary<string, string> environment, string? stdin = null, TimeSpan? timeout = null)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "EvalPlatform.Web.dll");
        var workDir = Directory.CreateTempSubdirectory("evalproc-").FullName;
        var info = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = workDir,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(dll);
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        info.Environment["ConnectionStrings__Postgres"] = "";
        info.Environment["ConnectionStrings__Redis"] = "";
        // Its own scheduler unless the test says otherwise: processes on one database never run each other's jobs.
        info.Environment["Jobs__SchedulerName"] = $"EvalTest-{Guid.NewGuid():N}";
        info.Environment["ASPNETCORE_URLS"] = "http://127.0.0.1:0";
        foreach (var (key, value) in environment)
        {
            info.Environment[key] = value;
        }

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (stdin is not null)
        {
            await process.StandardInput.WriteLineAsync(stdin);
        }

        process.StandardInput.Close();
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"'{string.Join(' ', args)}' did not exit in time. Stderr so far: {await stderr}");
        }

        var result = new Result(process.ExitCode, await stdout, await stderr);
        Directory.Delete(workDir, recursive: true);
        return result;
    }
}
