using System.Diagnostics;
using System.Globalization;

namespace EvalPlatform.Bench;

/// <summary>CPU seconds used so far: the whole machine, the app, the bench, and our PostgreSQL cluster.</summary>
internal sealed record CpuSample(long Timestamp, double Machine, double App, double Bench, double? Postgres)
{
    public CpuUse Until(CpuSample end) => new(
        Stopwatch.GetElapsedTime(Timestamp, end.Timestamp).TotalSeconds,
        end.Machine - Machine, end.App - App, end.Bench - Bench,
        Postgres is { } p && end.Postgres is { } q ? q - p : null);
}

/// <summary>CPU seconds used during one phase, and how long it lasted.</summary>
internal sealed record CpuUse(double Seconds, double Machine, double App, double Bench, double? Postgres)
{
    /// <summary>Cores used on average by everything else on the machine (other builds, tests, the kernel, Redis).</summary>
    public double OtherCores => Seconds > 0 ? (Machine - App - Bench - (Postgres ?? 0)) / Seconds : 0;

    /// <summary>CPU time per item (trace or request) of the app, PostgreSQL and the client, in microseconds.</summary>
    public string PerItem(int items, string what) => items <= 0 ? "" : string.Create(CultureInfo.InvariantCulture,
        $"CPU per {what}: app {App / items * 1e6:N0} us, postgres {(Postgres is { } p ? (p / items * 1e6).ToString("N0", CultureInfo.InvariantCulture) : "?")} us, bench client {Bench / items * 1e6:N0} us");

    public override string ToString()
    {
        var cores = Environment.ProcessorCount;
        string Share(double cpu) => Seconds > 0 ? $"{cpu / Seconds:0.00}" : "-";
        var other = Machine - App - Bench - (Postgres ?? 0);
        var pg = Postgres is { } p ? $"postgres {Share(p)}, " : "";
        return string.Create(CultureInfo.InvariantCulture,
            $"cores busy {Share(Machine)} of {cores}: app {Share(App)}, {pg}bench client {Share(Bench)}, other {Share(other)}");
    }
}

/// <summary>Reads /proc (Linux): read-only, by pid, nothing is signalled.</summary>
internal sealed class CpuMeter(int appPid, int? postmasterPid)
{
    private const double TicksPerSecond = 100.0; // USER_HZ on Linux

    public CpuSample Sample() => new(
        Stopwatch.GetTimestamp(),
        MachineBusy(),
        ProcessCpu(appPid, withReapedChildren: true) ?? 0,
        ProcessCpu(System.Environment.ProcessId, withReapedChildren: false) ?? 0,
        postmasterPid is { } pm ? PostgresCpu(pm) : null);

    private static double MachineBusy()
    {
        try
        {
            var first = File.ReadLines("/proc/stat").First();
            var f = first.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            // cpu user nice system idle iowait irq softirq steal ...
            long Field(int i) => f.Length > i ? long.Parse(f[i], CultureInfo.InvariantCulture) : 0;
            return (Field(1) + Field(2) + Field(3) + Field(6) + Field(7) + Field(8)) / TicksPerSecond;
        }
        catch (IOException)
        {
            return 0;
        }
    }

    /// <summary>utime + stime (+ cutime + cstime: children that exited, e.g. PostgreSQL backends).</summary>
    private static double? ProcessCpu(int pid, bool withReapedChildren)
    {
        var f = StatFields(pid);
        if (f is null)
        {
            return null;
        }

        // Fields after "(comm)": [0]=state(3) [1]=ppid(4) ... [11]=utime(14) [12]=stime(15) [13]=cutime(16) [14]=cstime(17)
        var ticks = long.Parse(f[11], CultureInfo.InvariantCulture) + long.Parse(f[12], CultureInfo.InvariantCulture);
        if (withReapedChildren)
        {
            ticks += long.Parse(f[13], CultureInfo.InvariantCulture) + long.Parse(f[14], CultureInfo.InvariantCulture);
        }

        return ticks / TicksPerSecond;
    }

    private static double? PostgresCpu(int postmaster)
    {
        var total = ProcessCpu(postmaster, withReapedChildren: true);
        if (total is null)
        {
            return null;
        }

        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }

            var f = StatFields(pid);
            if (f is not null && f[1] == postmaster.ToString(CultureInfo.InvariantCulture))
            {
                total += ProcessCpu(pid, withReapedChildren: false) ?? 0;
            }
        }

        return total;
    }

    private static string[]? StatFields(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var close = stat.LastIndexOf(')');
            var f = stat[(close + 2)..].Split(' ');
            return f.Length > 14 ? f : null;
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }
}

/// <summary>Percentiles by nearest rank, in milliseconds.</summary>
internal static class Percentiles
{
    public static double Of(IReadOnlyList<double> sorted, double p)
    {
        if (sorted.Count == 0)
        {
            return double.NaN;
        }

        var rank = (int)Math.Ceiling(p / 100.0 * sorted.Count);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Count - 1)];
    }

    public static double Ms(long fromTimestamp, long toTimestamp) =>
        (toTimestamp - fromTimestamp) * 1000.0 / Stopwatch.Frequency;
}
