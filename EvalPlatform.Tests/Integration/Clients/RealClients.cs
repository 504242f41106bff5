using System.ComponentModel;
using System.Diagnostics;
using System.Text.Json;

namespace EvalPlatform.Tests.Integration.Clients;

/// <summary>
/// Runs <c>EvalPlatform.Tests/Clients/journey.mjs</c>: the official LangSmith and OpenTelemetry JS clients, as
/// pinned by that folder's package-lock.json, sending to the app. Node and the folder's <c>npm ci</c> are
/// requirements, never reasons to skip: without them every real-client test fails with what to do.
/// </summary>
public static class RealClients
{
    /// <summary>The journeys journey.mjs knows, each a trace of a chain, a model call and a tool call (or more).</summary>
    public static readonly string[] Journeys =
    [
        "langsmith-runtree", "langsmith-traceable", "langsmith-same-ms", "langsmith-out-of-order", "langsmith-unbatched",
        "otlp-proto", "otlp-json", "otlp-proto-messages",
    ];

    private static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    /// <summary>One span as the client made it: its id, its parent's, and the name the app should store.</summary>
    public sealed record SentSpan(string Id, string? ParentId, string Name);

    /// <summary>One trace sent; <paramref name="Order"/> is the order number its content names ("Where is order N?").</summary>
    public sealed record SentTrace(string Journey, int Iteration, int Order, string TraceId, IReadOnlyList<SentSpan> Spans, int Ms);

    /// <summary>One HTTP answer a client got (OTLP: the export's result, 200 for success).</summary>
    public sealed record Exchange(string Door, string Method, string Path, int Status, string Body);

    public sealed record Output(IReadOnlyList<SentTrace> Traces, IReadOnlyList<Exchange> Exchanges, IReadOnlyList<string> Warnings);

    /// <summary>The node package's folder, found above the test assembly (bin/&lt;config&gt;/&lt;tfm&gt;/ sits in the test project).</summary>
    public static string Folder { get; } = FindFolder();

    /// <summary>
    /// Runs <paramref name="journeys"/> (comma-separated, or "all") <paramref name="repeat"/> times in one node
    /// process and returns what it sent. Throws, with node's output, when node is missing or exits non-zero.
    /// </summary>
    public static async Task<Output> RunAsync(Uri app, string apiKey, string journeys, string runId, int repeat = 1, TimeSpan? timeout = null)
    {
        if (!File.Exists(Path.Combine(Folder, "node_modules", "langsmith", "package.json")))
        {
            throw new InvalidOperationException(
                $"The real clients are not installed: run 'npm ci' in {Folder} (scripts/test.sh does it before the tests).");
        }

        var start = new ProcessStartInfo("node")
        {
            WorkingDirectory = Folder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { "journey.mjs", app.ToString(), apiKey, journeys, runId, repeat.ToString(System.Globalization.CultureInfo.InvariantCulture) })
        {
            start.ArgumentList.Add(arg);
        }

        // The journeys set the LangSmith variables themselves; none of the caller's may redirect them.
        foreach (var name in start.Environment.Keys.Where(k => k.StartsWith("LANGSMITH_", StringComparison.Ordinal) || k.StartsWith("LANGCHAIN_", StringComparison.Ordinal) || k.StartsWith("OTEL_", StringComparison.Ordinal)).ToList())
        {
            start.Environment.Remove(name);
        }

        Process node;
        try
        {
            node = Process.Start(start)!;
        }
        catch (Win32Exception e)
        {
            throw new InvalidOperationException($"'node' could not be started ({e.Message}): the real-client tests need Node.js 20 or later on PATH.", e);
        }

        using (node)
        {
            var stdout = node.StandardOutput.ReadToEndAsync();
            var stderr = node.StandardError.ReadToEndAsync();
            using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(60));
            try
            {
                await node.WaitForExitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                node.Kill(entireProcessTree: true);
                throw new TimeoutException($"journey.mjs {journeys} did not finish in time. Stderr so far: {await stderr}");
            }

            var (output, errors) = (await stdout, await stderr);
            if (node.ExitCode != 0)
            {
                throw new InvalidOperationException($"journey.mjs {journeys} exited with {node.ExitCode}:\n{errors}\n{output}");
            }

            return JsonSerializer.Deserialize<Output>(output, Json)
                ?? throw new InvalidOperationException($"journey.mjs {journeys} printed nothing:\n{errors}");
        }
    }

    private static string FindFolder()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "Clients");
            if (File.Exists(Path.Combine(candidate, "journey.mjs")))
            {
                return candidate;
            }
        }

        throw new InvalidOperationException($"No Clients/journey.mjs above {AppContext.BaseDirectory}: run the tests from the repository's build output.");
    }
}
