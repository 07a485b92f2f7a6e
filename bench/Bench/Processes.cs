using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Bench;

/// <summary>Every process the bench starts, stopped by PID (with its children) when the bench ends, however it ends.</summary>
internal static class Processes
{
    private static readonly List<Process> Children = [];

    static Processes()
    {
        AppDomain.CurrentDomain.ProcessExit += (_, _) => StopAll();
        Console.CancelKeyPress += (_, _) => StopAll();
    }

    public static Process Start(string file, IEnumerable<string> args, IDictionary<string, string>? env = null, string? cwd = null, bool echoErrors = true)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = cwd ?? "" };
        foreach (var a in args) info.ArgumentList.Add(a);
        if (env is not null) foreach (var (k, v) in env) info.Environment[k] = v;
        var process = Process.Start(info)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null && echoErrors) Console.Error.WriteLine($"[{Path.GetFileName(file)}] {e.Data}"); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        lock (Children) Children.Add(process);
        return process;
    }

    public static void Stop(Process process)
    {
        try { if (!process.HasExited) process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
        process.WaitForExit(5000);
        lock (Children) Children.Remove(process);
    }

    public static void StopAll()
    {
        lock (Children)
        {
            foreach (var p in Children)
                try { if (!p.HasExited) p.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            Children.Clear();
        }
    }

    /// <summary>Every process stopped, then the run's scratch folder removed.</summary>
    public static void StopAllAndDelete(string work)
    {
        StopAll();
        try { Directory.Delete(work, true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    /// <summary>A report printed and kept as bench/results/<paramref name="file"/>.</summary>
    public static async Task SaveReportAsync(string root, string file, string report, bool print = true)
    {
        if (print) Console.Write(report);
        Directory.CreateDirectory(Path.Combine(root, "bench", "results"));
        await File.WriteAllTextAsync(Path.Combine(root, "bench", "results", file), report);
    }

    public static async Task<string> RunToEndAsync(string file, IEnumerable<string> args)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) info.ArgumentList.Add(a);
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return await output + await errors;
    }

    public static async Task WaitUpAsync(string url, int seconds = 30)
    {
        using var http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { Timeout = TimeSpan.FromSeconds(1) };
        for (var until = DateTime.UtcNow.AddSeconds(seconds); DateTime.UtcNow < until; await Task.Delay(50))
        {
            try { if ((int)(await http.GetAsync(url)).StatusCode < 500) return; }
            catch (HttpRequestException) { }
            catch (TaskCanceledException) { }
        }
        throw new TimeoutException($"{url} did not come up within {seconds} s.");
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>utime + stime of a process and all its descendants (nginx's and Apache's workers), in microseconds.</summary>
    public static long CpuMicros(Process process)
    {
        var stats = new Dictionary<int, (int Parent, long Ticks)>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid)) continue;
            string stat;
            try { stat = File.ReadAllText(Path.Combine(dir, "stat")); }
            catch (IOException) { continue; }
            catch (UnauthorizedAccessException) { continue; }
            // Fields after the command name (field 2): state, ppid, ... utime (14), stime (15), in clock ticks of 10 ms.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            stats[pid] = (int.Parse(fields[1], CultureInfo.InvariantCulture),
                long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture));
        }
        var tree = new HashSet<int> { process.Id };
        for (var grew = true; grew;)
        {
            grew = false;
            foreach (var (pid, (parent, _)) in stats)
                if (tree.Contains(parent) && tree.Add(pid)) grew = true;
        }
        return tree.Sum(pid => stats.TryGetValue(pid, out var s) ? s.Ticks : 0) * 10_000;
    }

    /// <summary>Resident memory of a process tree in bytes (VmRSS).</summary>
    public static long RssBytes(Process process)
    {
        foreach (var line in File.ReadLines($"/proc/{process.Id}/status"))
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
        return 0;
    }
}
