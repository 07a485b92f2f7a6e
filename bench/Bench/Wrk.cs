using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace Bench;

internal sealed record WrkResult(double Rps, double P50, double P99, long Requests, double? CpuMicros, double? RedisPerRequest);

/// <summary>One wrk run against one target, with the target server's own CPU per request and Redis commands per request.</summary>
internal static partial class Wrk
{
    public static async Task<WrkResult> RunAsync(string url, string? cookie, int seconds, int connections, Process? server, int? redisPort, bool strict = true)
    {
        var cpuBefore = server is null ? 0 : Processes.CpuMicros(server);
        var redisBefore = redisPort is { } p ? await RedisCommandsAsync(p) : 0;
        var run = await RunOnceAsync(url, cookie, seconds, connections);
        if (run.Requests == 0) throw new InvalidOperationException($"wrk against {url} reported no requests:\n{run.Text}");
        var cpuAfter = server is null ? 0 : Processes.CpuMicros(server);
        var redisAfter = redisPort is { } q ? await RedisCommandsAsync(q) - 1 : 0; // minus the INFO that counted
        if (run.Non2xx > 0 && strict) throw new InvalidOperationException($"{url}: {run.Non2xx} non-2xx responses:\n{run.Text}");
        return new WrkResult(run.Rps, run.P50, run.P99, run.Requests,
            server is null ? null : (double)(cpuAfter - cpuBefore) / Math.Max(1, run.Requests),
            redisPort is null ? null : (double)(redisAfter - redisBefore) / Math.Max(1, run.Requests));
    }

    /// <summary>What one wrk run printed, parsed; a run that got no answer at all has 0 requests.</summary>
    public sealed record Run(double Rps, double P50, double P99, long Requests, long Non2xx, string Text);

    /// <summary>One wrk run (-t1 --latency), optionally with a Lua script and its environment.</summary>
    public static async Task<Run> RunOnceAsync(string url, string? cookie, int seconds, int connections, string? script = null, IDictionary<string, string>? env = null)
    {
        var info = new ProcessStartInfo("wrk") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { "-t1", $"-c{connections}", $"-d{seconds}s", "--timeout", "10s", "--latency" }) info.ArgumentList.Add(arg);
        if (cookie is not null) { info.ArgumentList.Add("-H"); info.ArgumentList.Add($"Cookie: {cookie}"); }
        if (script is not null) { info.ArgumentList.Add("-s"); info.ArgumentList.Add(script); }
        info.ArgumentList.Add(url);
        foreach (var (k, v) in env ?? new Dictionary<string, string>()) info.Environment[k] = v;
        using var wrk = Process.Start(info)!;
        var errors = wrk.StandardError.ReadToEndAsync();
        var text = await wrk.StandardOutput.ReadToEndAsync() + await errors;
        await wrk.WaitForExitAsync();
        var requests = RequestCount().Match(text);
        if (!requests.Success) return new Run(0, 0, 0, 0, 0, text);
        var non2xx = Non2xx().Match(text);
        return new Run(double.Parse(Rate().Match(text).Groups[1].Value, CultureInfo.InvariantCulture), Latency(text, "50"), Latency(text, "99"),
            long.Parse(requests.Groups[1].Value, CultureInfo.InvariantCulture),
            non2xx.Success ? long.Parse(non2xx.Groups[1].Value, CultureInfo.InvariantCulture) : 0, text);
    }

    /// <summary>Requests served in one short run, for the cold-start curve.</summary>
    public static async Task<double> RateAsync(string url, string? cookie, int seconds, int connections) =>
        (await RunOnceAsync(url, cookie, seconds, connections)).Rps;

    public static async Task<long> RedisCommandsAsync(int port) => (await CommandStatsAsync(port)).Values.Sum();

    /// <summary>Calls per Redis command so far (INFO commandstats).</summary>
    public static async Task<Dictionary<string, long>> CommandStatsAsync(int port)
    {
        var info = await Processes.RunToEndAsync("redis-cli", ["-p", $"{port}", "info", "commandstats"]);
        return CommandStat().Matches(info).ToDictionary(m => m.Groups[1].Value, m => long.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture));
    }

    /// <summary>The Redis server's own CPU so far, user and system, in µs (INFO cpu).</summary>
    public static async Task<double> RedisCpuMicrosAsync(int port)
    {
        var info = await Processes.RunToEndAsync("redis-cli", ["-p", $"{port}", "info", "cpu"]);
        return RedisCpu().Matches(info).Sum(m => double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)) * 1e6;
    }

    private static double Latency(string output, string percentile)
    {
        var m = Regex.Match(output, $@"^\s+{percentile}%\s+([\d.]+)(us|ms|s)", RegexOptions.Multiline);
        var v = double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
        return m.Groups[2].Value switch { "us" => v / 1000, "s" => v * 1000, _ => v };
    }

    [GeneratedRegex(@"Non-2xx or 3xx responses: (\d+)")]
    private static partial Regex Non2xx();

    [GeneratedRegex(@"(\d+) requests in")]
    private static partial Regex RequestCount();

    [GeneratedRegex(@"Requests/sec:\s+([\d.]+)")]
    private static partial Regex Rate();

    [GeneratedRegex(@"cmdstat_(\w+):calls=(\d+)")]
    private static partial Regex CommandStat();

    // The server's own threads only: used_cpu_sys and used_cpu_user, not the _children or _main_thread lines.
    [GeneratedRegex(@"^used_cpu_(?:sys|user):([\d.]+)\r?$", RegexOptions.Multiline)]
    private static partial Regex RedisCpu();
}
