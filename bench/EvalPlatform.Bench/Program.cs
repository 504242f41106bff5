using System.Globalization;
using EvalPlatform.Bench;

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;

if (args.Any(a => a is "--help" or "-h"))
{
    Console.WriteLine(BenchSettings.Usage);
    return 0;
}

BenchSettings settings;
try
{
    settings = BenchSettings.Parse(args);
}
catch (ArgumentException e)
{
    await Console.Error.WriteLineAsync($"bench: {e.Message}\n\n{BenchSettings.Usage}");
    return 2;
}

using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancel.Cancel();
};

try
{
    return settings.SettingsCache ? await SettingsCacheBench.RunAsync(settings, cancel.Token)
        : settings.Analytics ? await AnalyticsBench.RunAsync(settings, cancel.Token)
        : await IngestionBench.RunAsync(settings, cancel.Token);
}
catch (OperationCanceledException) when (cancel.IsCancellationRequested)
{
    await Console.Error.WriteLineAsync("bench: interrupted");
    return 130;
}
