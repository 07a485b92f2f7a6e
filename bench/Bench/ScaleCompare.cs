using System.Globalization;
using System.Text;

namespace Bench;

/// <summary>
/// <c>--scale --baseline-dll PATH</c>: this build and another side by side on one Redis and the same sessions (signed in
/// once, through this build), the 1k and the largest spread measured in alternating rounds, so the machine's drift falls
/// on both alike. Reports per build the median CPU per request and req/s of each row, the largest row against the 1k
/// row, and this build against the baseline. Options as <c>--scale</c>, and --rounds N (3), --dll PATH (a build in this
/// one's place), --env and --baseline-env NAME=VALUE[;NAME=VALUE] (settings or runtime knobs for one side only: the
/// same dll twice with a setting on one side measures that setting). --together: both builds under load at once, each
/// on its own copy of the Redis (saved once the sessions are signed in), instead of one after the other. Taking turns
/// leaves each build idle for the other's round, longer than a third of CacheDuration: its cached sessions run out
/// meanwhile and its next round reads them again, which a replica under steady load never does.
/// </summary>
internal static partial class Scale
{
    private static async Task<int> CompareAsync(string[] args, string baselineDll)
    {
        var counts = Options.Ints(args, "--sessions", 1_000, 100_000);
        var (small, large) = (counts.Min(), counts.Max());
        var duration = Options.Int(args, "--duration", 10);
        var connections = Options.Int(args, "--connections", 32);
        var rounds = Options.Int(args, "--rounds", 3);
        var root = Options.Root();
        var report = new StringBuilder();
        void Line(string text) { report.AppendLine(text); Console.WriteLine(text); }

        var together = args.Contains("--together");
        Line($"Scale side by side, {DateTime.UtcNow:u}, {Environment.ProcessorCount} cores, Redis on loopback, this build (d) and {baselineDll} (z), wrk -t1 -c{connections} -d{duration}s, {rounds} {(together ? "rounds with both under load at once, each on its own copy of the Redis" : "alternating rounds")}");
        var work = Directory.CreateTempSubdirectory("gwscalecmp").FullName;
        try
        {
            // --dll PATH: another build in this one's place (two builds other than this one side by side).
            var gatewayDll = Options.String(args, "--dll") ?? Path.Combine(root, "Gateway", "bin", "Release", "net10.0", "Gateway.dll");
            var redisPort = Processes.FreePort();
            Peers.StartRedis(work, redisPort);
            var upstreamPort = Processes.FreePort();
            Peers.StartUpstream(work, upstreamPort);
            File.WriteAllText(Path.Combine(work, "proxy.json"), Gateways.RouteFile($"http://127.0.0.1:{upstreamPort}/"));
            // Both on the same keys and key ring: every session is valid on either, as on two replicas of a rolling update.
            var (env, baselineEnv) = (EnvOption(args, "--env"), EnvOption(args, "--baseline-env"));
            if (env.Count + baselineEnv.Count > 0)
                Line($"  d with {string.Join(' ', env.Select(e => $"{e.Key}={e.Value}"))}; z with {string.Join(' ', baselineEnv.Select(e => $"{e.Key}={e.Value}"))}");
            var builds = new[] { (Key: "d", Started: Gateways.Start(gatewayDll, work, redisPort, env)), (Key: "z", Started: Gateways.Start(baselineDll, work, redisPort, baselineEnv)) };
            foreach (var (_, (url, _)) in builds) await Processes.WaitUpAsync($"{url}/readyz", 60);

            var cookies = await SignInManyAsync(builds[0].Started.Url, large);
            // --together: z moves to a copy of the Redis as it stands now (the sessions, the key ring), so each build's
            // Redis commands are its own to count.
            var redisOf = new[] { redisPort, redisPort };
            if (together)
            {
                await Processes.RunToEndAsync("redis-cli", ["-p", $"{redisPort}", "save"]);
                var copy = Directory.CreateDirectory(Path.Combine(work, "redis-z")).FullName;
                File.Copy(Path.Combine(work, "dump.rdb"), Path.Combine(copy, "dump.rdb"));
                redisOf[1] = Processes.FreePort();
                Peers.StartRedis(copy, redisOf[1]);
            }
            // Both started again: a process that has just signed in 100,000 sessions measured up to a tenth more CPU per
            // request than its twin on the same code, and one that sat idle through the sign-ins served a tenth fewer
            // requests from its cache; both now come to the load with the same history.
            for (var i = 0; i < builds.Length; i++)
            {
                Processes.Stop(builds[i].Started.Process);
                builds[i].Started = Gateways.Start(i == 0 ? gatewayDll : baselineDll, work, redisOf[i], i == 0 ? env : baselineEnv);
            }
            foreach (var (_, (url, _)) in builds) await Processes.WaitUpAsync($"{url}/readyz", 60);
            var cookieFile = Path.Combine(work, "cookies.txt");
            await File.WriteAllLinesAsync(cookieFile, cookies);
            var script = Path.Combine(work, "spread.lua");
            await File.WriteAllTextAsync(script, SpreadScript);

            var rows = new Dictionary<(string Build, int Sessions), List<Spread>>();
            foreach (var n in new[] { small, large })
            {
                // Unmeasured load on both at once first (for the large set every session met once in turn, then a whole
                // TouchInterval of the random load, so slides come at their steady rate), then the measured rounds: both
                // at once with --together, else one build after the other, the order turning each round.
                var warm = n == large ? 65 : 5;
                if (n == large) await Task.WhenAll(builds.Select(b => WalkAsync(b.Started.Url, work, cookieFile, n, connections / 2)));
                await Task.WhenAll(builds.Select(b => SpreadAsync(b.Started.Url, b.Started.Process, null, script, cookieFile, n, warm, connections / 2)));
                void Add(string key, Spread spread) => (rows.TryGetValue((key, n), out var list) ? list : rows[(key, n)] = []).Add(spread);
                for (var round = 0; round < rounds; round++)
                {
                    if (together)
                    {
                        var spreads = await Task.WhenAll(builds.Select((b, i) => SpreadAsync(b.Started.Url, b.Started.Process, redisOf[i], script, cookieFile, n, duration, connections)));
                        for (var i = 0; i < builds.Length; i++) Add(builds[i].Key, spreads[i]);
                        continue;
                    }
                    foreach (var (key, (url, process)) in round % 2 == 0 ? builds : builds.Reverse())
                        Add(key, await SpreadAsync(url, process, redisPort, script, cookieFile, n, duration, connections));
                }
            }

            Line("");
            // Redis µs/req: the store's own CPU per request, meaningful with --together (each build on its own Redis).
            Line(FormattableString.Invariant($"{"build",-7}{"live sessions",-16}{"req/s",9}{"CPU µs/req",12}{"Redis/req",11}{"reads/req",11}{"Redis µs/req",14}   (medians of {rounds} rounds)"));
            double Cpu(string b, int n) => RedisModes.Median(rows[(b, n)], r => r.Cpu);
            double Rps(string b, int n) => RedisModes.Median(rows[(b, n)], r => r.Rps);
            foreach (var (key, _) in builds)
                foreach (var n in new[] { small, large })
                    Line(FormattableString.Invariant($"{key,-7}{n,-16:N0}{Rps(key, n),9:0}{Cpu(key, n),12:0.0}{RedisModes.Median(rows[(key, n)], r => r.RedisPerRequest),11:0.000}{RedisModes.Median(rows[(key, n)], r => 1 - r.HitRate),11:0.000}{RedisModes.Median(rows[(key, n)], r => r.RedisCpu),14:0.0}"));
            foreach (var (key, _) in builds)
                Line(FormattableString.Invariant($"  {key}: CPU per request at {large:N0} is {Cpu(key, large) / Cpu(key, small):0.00}x its {small:N0}-session row; rounds (µs): {string.Join(" ", rows[(key, small)].Select(r => r.Cpu.ToString("0", CultureInfo.InvariantCulture)))} | {string.Join(" ", rows[(key, large)].Select(r => r.Cpu.ToString("0", CultureInfo.InvariantCulture)))}"));
            Line(FormattableString.Invariant($"  this build against the baseline (d/z): CPU {Cpu("d", small) / Cpu("z", small):0.000} at {small:N0}, {Cpu("d", large) / Cpu("z", large):0.000} at {large:N0}; req/s {Rps("d", small) / Rps("z", small):0.000} and {Rps("d", large) / Rps("z", large):0.000}"));
            double Both(string b, int n) => RedisModes.Median(rows[(b, n)], r => r.Cpu + r.RedisCpu);
            if (together)
                Line(FormattableString.Invariant($"  gateway and its Redis together, d/z: {Both("d", small) / Both("z", small):0.000} at {small:N0}, {Both("d", large) / Both("z", large):0.000} at {large:N0}"));
            await Processes.SaveReportAsync(root, "scale-compare.txt", report.ToString(), print: false);
            return 0;
        }
        finally
        {
            Processes.StopAllAndDelete(work);
        }
    }

    private static Dictionary<string, string> EnvOption(string[] args, string name) =>
        (Options.String(args, name) ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries)
            .Select(pair => pair.Split('=', 2) is [var k, var v] ? (k, v) : throw new ArgumentException($"{name} takes NAME=VALUE pairs separated by ';', not '{pair}'"))
            .ToDictionary(p => p.k, p => p.v);
}
