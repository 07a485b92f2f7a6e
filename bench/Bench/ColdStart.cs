using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Bench;

/// <summary>
/// A replica that starts under load: for each build and runtime setting, a fresh gateway process gets signed-in
/// load (wrk, one second at a time) from the moment it reports ready (/readyz, as a Kubernetes Service would send it
/// traffic), for 15 s, then 5 s more as its steady rate. Prints how long it took to become ready, req/s per second
/// and how long it took to reach 90 % of steady. Variants: no warm-up (every request from the first one on is load),
/// the default warm-up, the warm-up with tiered PGO off and also without the call-counting delay, and ReadyToRun
/// (published here with crossgen) with the warm-up. Options: --rounds N (default 2), --only NAME (variants whose name
/// contains NAME).
/// </summary>
internal static class ColdStart
{
    private const int Seconds = 15;
    private static readonly Dictionary<string, string> NoWarmUp = new() { ["Gateway__WarmUp__Enabled"] = "false" };

    public static async Task<int> RunAsync(string[] args)
    {
        var rounds = Options.Int(args, "--rounds", 2);
        var connections = Options.Int(args, "--connections", 32);
        var root = Options.Root();
        var work = Directory.CreateTempSubdirectory("gwcold").FullName;
        try
        {
            var jitDll = Path.Combine(root, "Gateway", "bin", "Release", "net10.0", "Gateway.dll");
            var r2rDir = Path.Combine(work, "r2r");
            var r2rDll = Path.Combine(r2rDir, "Gateway.dll");
            var variants = new (string Name, string Dll, Dictionary<string, string> Env)[]
            {
                ("no warm-up", jitDll, new(NoWarmUp)),
                ("warm-up (default)", jitDll, []),
                ("warm-up (GC DATAS off)", jitDll, new() { ["DOTNET_GCDynamicAdaptationMode"] = "0" }),
                ("warm-up, TieredPGO off", jitDll, new() { ["DOTNET_TieredPGO"] = "0" }),
                ("warm-up, no PGO, no delay", jitDll, new() { ["DOTNET_TieredPGO"] = "0", ["DOTNET_TC_CallCountingDelayMs"] = "0" }),
                ("ReadyToRun + warm-up", r2rDll, []),
            };
            // --only NAME: just the variants whose name contains NAME (e.g. to compare one change quickly).
            var only = Options.String(args, "--only");
            if (only is not null) variants = variants.Where(v => v.Name.Contains(only, StringComparison.OrdinalIgnoreCase)).ToArray();
            if (variants.Any(v => v.Dll == r2rDll))
            {
                var publish = await Processes.RunToEndAsync("dotnet", ["publish", Path.Combine(root, "Gateway", "Gateway.csproj"), "-c", "Release", "-r", "linux-x64",
                    "--self-contained", "false", "-p:PublishReadyToRun=true", "-o", r2rDir, "-nologo", "-v", "q"]);
                if (!File.Exists(r2rDll)) throw new InvalidOperationException("ReadyToRun publish failed:\n" + publish);
            }

            var redisPort = Processes.FreePort();
            Peers.StartRedis(work, redisPort);
            var upstreamPort = Processes.FreePort();
            Peers.StartUpstream(work, upstreamPort);
            File.WriteAllText(Path.Combine(work, "proxy.json"), Gateways.RouteFile($"http://127.0.0.1:{upstreamPort}/"));
            // A first replica makes the key ring and the session every cold replica is then asked for.
            var (seed, seedProcess) = Gateways.Start(jitDll, work, redisPort, NoWarmUp);
            await Processes.WaitUpAsync($"{seed}/healthz");
            var cookie = await Logins.GatewayAsync(seed);
            Processes.Stop(seedProcess);

            var curves = variants.ToDictionary(v => v.Name, _ => new List<(double StartMs, double[] Rates, double Steady)>());
            for (var round = 0; round < rounds; round++)
                foreach (var (name, dll, env) in variants)
                    curves[name].Add(await MeasureAsync(dll, env, work, redisPort, cookie, connections));

            var report = new StringBuilder();
            report.AppendLine(CultureInfo.InvariantCulture, $"Cold start under load, {DateTime.UtcNow:u}, wrk -t1 -c{connections}, signed in with headers + assertion; ready ms from process start to /readyz 200; req/s in each second after that; medians of {rounds} starts");
            report.Append(CultureInfo.InvariantCulture, $"{"variant",-28}{"ready ms",9}");
            for (var s = 1; s <= Seconds; s++) report.Append(CultureInfo.InvariantCulture, $"{s,7}");
            report.AppendLine(CultureInfo.InvariantCulture, $"{"steady",8}{"90% at",8}");
            foreach (var (name, runs) in curves)
            {
                var rates = Enumerable.Range(0, Seconds).Select(s => Mid(runs.Select(r => r.Rates[s]))).ToArray();
                var steady = Mid(runs.Select(r => r.Steady));
                var reached = Array.FindIndex(rates, r => r >= 0.9 * steady);
                report.Append(CultureInfo.InvariantCulture, $"{name,-28}{Mid(runs.Select(r => r.StartMs)),9:0}");
                foreach (var r in rates) report.Append(CultureInfo.InvariantCulture, $"{r,7:0}");
                report.AppendLine(CultureInfo.InvariantCulture, $"{steady,8:0}{(reached < 0 ? ">15" : (reached + 1) + " s"),8}");
            }
            await Processes.SaveReportAsync(root, "cold-start.txt", report.ToString());
            return 0;
        }
        finally
        {
            Processes.StopAllAndDelete(work);
        }
    }

    private static async Task<(double StartMs, double[] Rates, double Steady)> MeasureAsync(string dll, Dictionary<string, string> env, string work, int redisPort, string cookie, int connections)
    {
        var clock = Stopwatch.StartNew();
        var (url, process) = Gateways.Start(dll, work, redisPort, env);
        try
        {
            await Processes.WaitUpAsync($"{url}/readyz", 60);
            var startMs = clock.Elapsed.TotalMilliseconds;
            var rates = new double[Seconds];
            for (var s = 0; s < Seconds; s++) rates[s] = await Wrk.RateAsync($"{url}/bench/signed/page", cookie, 1, connections);
            var steady = await Wrk.RateAsync($"{url}/bench/signed/page", cookie, 5, connections);
            return (startMs, rates, steady);
        }
        finally
        {
            Processes.Stop(process);
        }
    }

    private static double Mid(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted[sorted.Count / 2];
    }
}
