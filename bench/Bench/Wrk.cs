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
        var args = new List<string> { "-t1", $"-c{connections}", $"-d{seconds}s", "--timeout", "10s", "--latency" };
        if (cookie is not null) args.AddRange(["-H", $"Cookie: {cookie}"]);
        args.Add(url);
        var output = await Processes.RunToEndAsync("wrk", args);
        var cpuAfter = server is null ? 0 : Processes.CpuMicros(server);
        var redisAfter = redisPort is { } q ? await RedisCommandsAsync(q) - 1 : 0; // minus the INFO that counted
        var non2xx = Non2xx().Match(output);
        if (non2xx.Success && strict) throw new InvalidOperationException($"{url}: {non2xx.Groups[1].Value} non-2xx responses:\n{output}");
        var requests = long.Parse(RequestCount().Match(output).Groups[1].Value, CultureInfo.InvariantCulture);
        return new WrkResult(
            double.Parse(Rate().Match(output).Groups[1].Value, CultureInfo.InvariantCulture),
            Latency(output, "50"), Latency(output, "99"), requests,
            server is null ? null : (double)(cpuAfter - cpuBefore) / Math.Max(1, requests),
            redisPort is null ? null : (double)(redisAfter - redisBefore) / Math.Max(1, requests));
    }

    /// <summary>Requests served in one short run, for the cold-start curve.</summary>
    public static async Task<double> RateAsync(string url, string? cookie, int seconds, int connections)
    {
        var args = new List<string> { "-t1", $"-c{connections}", $"-d{seconds}s", "--timeout", "10s" };
        if (cookie is not null) args.AddRange(["-H", $"Cookie: {cookie}"]);
        args.Add(url);
        var output = await Processes.RunToEndAsync("wrk", args);
        var m = Rate().Match(output);
        return m.Success ? double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
    }

    public static async Task<long> RedisCommandsAsync(int port)
    {
        var info = await Processes.RunToEndAsync("redis-cli", ["-p", $"{port}", "info", "commandstats"]);
        return Calls().Matches(info).Sum(m => long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture));
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

    [GeneratedRegex(@"calls=(\d+)")]
    private static partial Regex Calls();
}
