using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using Gateway.Hosting;
using Gateway.Sessions;

namespace Bench;

/// <summary>
/// Past one Redis. <c>--login-cost</c>: what waiting for a replica (WAIT) costs a login: two replicas of the gateway
/// on one primary with a replica, one waiting (the default) and one not, measured in alternating rounds.
/// <c>--cluster-scale</c>: a three-primary Redis Cluster grown to 10k, 100k and 1M sessions (seeded through the
/// gateway's own session code, spread over 100,000 users), and at each size: logins per second, the signed-in
/// request's cost when cached (1,000 active sessions) and when mostly not (100,000 active, or all when fewer),
/// and Redis memory per session.
/// </summary>
internal static class RedisModes
{
    public static async Task<int> LoginCostAsync(string[] args)
    {
        var rounds = Options.Int(args, "--rounds", 5);
        var duration = Options.Int(args, "--duration", 4);
        var root = Options.Root();
        var report = new StringBuilder();
        void Line(string text) { report.AppendLine(text); Console.WriteLine(text); }
        var work = Directory.CreateTempSubdirectory("gwlogin").FullName;
        try
        {
            var primary = Processes.FreePort();
            Peers.StartRedis(work, primary);
            var replicaDir = Path.Combine(work, "replica");
            Directory.CreateDirectory(replicaDir);
            var replica = Processes.FreePort();
            Processes.Start("redis-server", ["--port", $"{replica}", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", replicaDir,
                "--replicaof", "127.0.0.1", $"{primary}"], echoErrors: false);
            var upstream = Processes.FreePort();
            Peers.StartUpstream(work, upstream);
            File.WriteAllText(Path.Combine(work, "proxy.json"), Gateways.RouteFile($"http://127.0.0.1:{upstream}/"));
            var dll = Path.Combine(root, "Gateway", "bin", "Release", "net10.0", "Gateway.dll");
            var (waiting, waitingProcess) = Gateways.Start(dll, work, primary);
            var (notWaiting, notWaitingProcess) = Gateways.Start(dll, work, primary, new Dictionary<string, string> { ["Gateway__Redis__WaitReplicas"] = "0" });
            await Processes.WaitUpAsync($"{waiting}/readyz", 60);
            await Processes.WaitUpAsync($"{notWaiting}/readyz", 60);

            Line($"Login cost of WAIT, {DateTime.UtcNow:u}, {Environment.ProcessorCount} cores, primary + 1 replica on loopback, 16 browsers signing in at once, {rounds} alternating rounds of {duration} s");
            await LoginRoundAsync(waiting, waitingProcess, 2);
            await LoginRoundAsync(notWaiting, notWaitingProcess, 2);
            var withWait = new List<LoginRound>();
            var without = new List<LoginRound>();
            for (var round = 0; round < rounds; round++)
            {
                withWait.Add(await LoginRoundAsync(waiting, waitingProcess, duration));
                without.Add(await LoginRoundAsync(notWaiting, notWaitingProcess, duration));
            }
            Line(FormattableString.Invariant($"{"",-26}{"logins/s",10}{"p50 ms",8}{"p99 ms",8}{"CPU µs/login",14}"));
            foreach (var (name, runs) in new[] { ("WaitReplicas=1 (default)", withWait), ("WaitReplicas=0", without) })
                Line(FormattableString.Invariant($"{name,-26}{Median(runs, r => r.PerSecond),10:0}{Median(runs, r => r.P50),8:0.00}{Median(runs, r => r.P99),8:0.00}{Median(runs, r => r.CpuPerLogin),14:0}"));
            Line(FormattableString.Invariant($"ratio wait/no-wait: logins/s {Median(withWait, r => r.PerSecond) / Median(without, r => r.PerSecond):0.00}, p50 {Median(withWait, r => r.P50) / Median(without, r => r.P50):0.00}, CPU per login {Median(withWait, r => r.CpuPerLogin) / Median(without, r => r.CpuPerLogin):0.00}"));
            await Processes.SaveReportAsync(root, "login-cost.txt", report.ToString(), print: false);
            return 0;
        }
        finally
        {
            Processes.StopAllAndDelete(work);
        }
    }

    private sealed record LoginRound(double PerSecond, double P50, double P99, double CpuPerLogin);

    /// <summary>The median of one figure over the rounds (the mean of the middle two for an even count).</summary>
    internal static double Median<T>(List<T> runs, Func<T, double> value)
    {
        var sorted = runs.Select(value).Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }

    /// <summary>16 browsers signing in over and over (form, then post) for <paramref name="seconds"/>: the posts' rate and latency.</summary>
    private static async Task<LoginRound> LoginRoundAsync(string gateway, Process server, int seconds)
    {
        var latencies = new ConcurrentBag<double>();
        var cpuBefore = Processes.CpuMicros(server);
        var watch = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, 16).Select(async _ =>
        {
            while (watch.Elapsed.TotalSeconds < seconds)
            {
                using var handler = new HttpClientHandler { CookieContainer = new CookieContainer(), AllowAutoRedirect = false };
                using var http = new HttpClient(handler) { BaseAddress = new Uri(gateway) };
                latencies.Add(await Logins.TimedGatewayLoginAsync(http));
            }
        }));
        var elapsed = watch.Elapsed.TotalSeconds;
        var cpu = Processes.CpuMicros(server) - cpuBefore;
        var sorted = latencies.ToList();
        return new LoginRound(sorted.Count / elapsed, Driver.Percentile(sorted, 50), Driver.Percentile(sorted, 99), (double)cpu / sorted.Count);
    }

    public static async Task<int> ClusterScaleAsync(string[] args)
    {
        var sizes = Options.Ints(args, "--sessions", 10_000, 100_000, 1_000_000);
        var duration = Options.Int(args, "--duration", 8);
        var connections = Options.Int(args, "--connections", 32);
        var root = Options.Root();
        var report = new StringBuilder();
        void Line(string text) { report.AppendLine(text); Console.WriteLine(text); }
        var work = Directory.CreateTempSubdirectory("gwcluster").FullName;
        try
        {
            var ports = await StartClusterAsync(work);
            var configuration = string.Join(",", ports.Select(p => $"127.0.0.1:{p}"));
            var upstream = Processes.FreePort();
            Peers.StartUpstream(work, upstream);
            File.WriteAllText(Path.Combine(work, "proxy.json"), Gateways.RouteFile($"http://127.0.0.1:{upstream}/"));
            var dll = Path.Combine(root, "Gateway", "bin", "Release", "net10.0", "Gateway.dll");
            var settings = new Dictionary<string, string> { ["Gateway__Redis__Configuration"] = configuration };
            var (gateway, process) = Gateways.Start(dll, work, ports[0], settings);
            await Processes.WaitUpAsync($"{gateway}/readyz", 60);
            var baseline = await UsedMemoryAsync(ports);

            await using var seeder = await Seeder.StartAsync(work, configuration);
            Line($"Redis Cluster scale, {DateTime.UtcNow:u}, {Environment.ProcessorCount} cores, 3 primaries on loopback (no replicas), one gateway replica, sessions of 100,000 users, wrk -t1 -c{connections} -d{duration}s");
            Line(FormattableString.Invariant($"{"sessions",-11}{"seeded/s",9}{"logins/s",9}{"hit µs/req",11}{"hit req/s",10}{"miss µs/req",12}{"miss req/s",11}{"miss Redis/req",15}{"miss hits",10}{"Redis B/session",16}"));
            var cookies = new List<string>();
            var random = new Random(7);
            foreach (var size in sizes)
            {
                var seeding = Stopwatch.StartNew();
                var added = size - cookies.Count;
                cookies.AddRange(await seeder.SeedAsync(cookies.Count, added));
                var seededPerSecond = added / seeding.Elapsed.TotalSeconds;
                var perSession = (double)(await UsedMemoryAsync(ports) - baseline) / cookies.Count;

                var logins = await LoginRoundAsync(gateway, process, 5);
                var hot = cookies.Take(1000).ToList();
                var active = cookies.Count <= 100_000 ? cookies : Enumerable.Range(0, 100_000).Select(_ => cookies[random.Next(cookies.Count)]).ToList();
                var hit = await SpreadAsync(work, gateway, process, ports, hot, duration, connections, warm: true);
                var miss = await SpreadAsync(work, gateway, process, ports, active, duration, connections, warm: false);
                Line(FormattableString.Invariant($"{size,-11:N0}{seededPerSecond,9:0}{logins.PerSecond,9:0}{hit.Cpu,11:0}{hit.Rps,10:0}{miss.Cpu,12:0}{miss.Rps,11:0}{miss.RedisPerRequest,15:0.00}{miss.HitRate,10:0%}{perSession,16:0}"));
            }
            await Processes.SaveReportAsync(root, "cluster-scale.txt", report.ToString(), print: false);
            return 0;
        }
        finally
        {
            Processes.StopAllAndDelete(work);
        }
    }

    private sealed record Spread(double Rps, double Cpu, double RedisPerRequest, double HitRate);

    /// <summary>Signed-in requests spread at random over <paramref name="cookies"/>: CPU per request, Redis commands per request, cache hit rate.</summary>
    private static async Task<Spread> SpreadAsync(string work, string gateway, Process server, int[] ports, List<string> cookies, int seconds, int connections, bool warm)
    {
        var file = Path.Combine(work, "active.txt");
        await File.WriteAllLinesAsync(file, cookies);
        var script = Path.Combine(work, "spread.lua");
        await File.WriteAllTextAsync(script, """
            local cookies = {}
            for line in io.lines(os.getenv("BENCH_COOKIES")) do cookies[#cookies + 1] = line end
            math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 100000)
            request = function() return wrk.format("GET", nil, { ["Cookie"] = cookies[math.random(1, #cookies)] }) end
            """);
        var env = new Dictionary<string, string> { ["BENCH_COOKIES"] = file };
        // Unmeasured first: JIT and pools warm, and the cache holds what this many active sessions leave in it; for the
        // spread load a whole TouchInterval (1 min), so each session's sliding-expiry write comes at its steady rate.
        await Wrk.RunOnceAsync($"{gateway}/bench/signed/page", null, warm ? 3 : 65, connections, script, env);
        var before = await CommandsAsync(ports);
        var cpuBefore = Processes.CpuMicros(server);
        var run = await Wrk.RunOnceAsync($"{gateway}/bench/signed/page", null, seconds, connections, script, env);
        var cpu = Processes.CpuMicros(server) - cpuBefore;
        var after = await CommandsAsync(ports);
        if (run.Requests == 0 || run.Non2xx > 0) throw new InvalidOperationException($"{run.Non2xx} non-2xx of {run.Requests}:\n{run.Text}");
        var commands = after.Values.Sum() - before.Values.Sum() - ports.Length;
        var reads = after.GetValueOrDefault("mget") - before.GetValueOrDefault("mget");
        return new Spread(run.Rps, (double)cpu / run.Requests, (double)commands / run.Requests, 1 - (double)reads / run.Requests);
    }

    private static async Task<Dictionary<string, long>> CommandsAsync(int[] ports)
    {
        var total = new Dictionary<string, long>();
        foreach (var port in ports)
            foreach (var (command, calls) in await Wrk.CommandStatsAsync(port))
                total[command] = total.GetValueOrDefault(command) + calls;
        return total;
    }

    private static async Task<long> UsedMemoryAsync(int[] ports)
    {
        long used = 0;
        foreach (var port in ports)
        {
            var info = await Processes.RunToEndAsync("redis-cli", ["-p", $"{port}", "info", "memory"]);
            var line = info.Split('\n').First(l => l.StartsWith("used_memory:", StringComparison.Ordinal));
            used += long.Parse(line["used_memory:".Length..].Trim(), CultureInfo.InvariantCulture);
        }
        return used;
    }

    private static async Task<int[]> StartClusterAsync(string work)
    {
        var ports = new int[3];
        for (var i = 0; i < ports.Length; i++)
        {
            // The cluster bus listens on port + 10000.
            do ports[i] = Processes.FreePort(); while (ports[i] > 55000);
            var dir = Path.Combine(work, $"node{i}");
            Directory.CreateDirectory(dir);
            Processes.Start("redis-server", ["--port", $"{ports[i]}", "--bind", "127.0.0.1", "--cluster-enabled", "yes", "--cluster-config-file",
                Path.Combine(dir, "nodes.conf"), "--save", "", "--appendonly", "no", "--dir", dir], echoErrors: false);
        }
        for (var i = 0; i < 50; i++)
        {
            if (ports.All(p => Processes.RunToEndAsync("redis-cli", ["-p", $"{p}", "ping"]).Result.Contains("PONG", StringComparison.Ordinal))) break;
            await Task.Delay(100);
        }
        await Processes.RunToEndAsync("redis-cli", ["--cluster", "create", .. ports.Select(p => $"127.0.0.1:{p}"), "--cluster-yes"]);
        for (var i = 0; i < 100; i++)
        {
            if ((await Processes.RunToEndAsync("redis-cli", ["-p", $"{ports[0]}", "cluster", "info"])).Contains("cluster_state:ok", StringComparison.Ordinal)) return ports;
            await Task.Delay(100);
        }
        throw new TimeoutException("The cluster did not reach cluster_state:ok.");
    }

    /// <summary>
    /// The gateway's own code in this process, on the same Redis, key prefix and key ring as the gateway replica: it
    /// creates sessions as a login does (SessionManager) and writes the cookie each would carry (SessionCookies).
    /// </summary>
    private sealed class Seeder : IAsyncDisposable
    {
        private readonly WebApplication _app;

        private Seeder(WebApplication app) => _app = app;

        public static async Task<Seeder> StartAsync(string work, string configuration)
        {
            var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Production", ContentRootPath = work, Args = [] });
            builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Gateway:ProxyConfigPath"] = Path.Combine(work, "proxy.json"),
                ["Gateway:Redis:Configuration"] = configuration,
                ["Gateway:KeyRing:KeyEncryptionKey"] = Gateways.KeyEncryptionKey,
                ["Gateway:Session:MaxPerUser"] = "1000000",
                // Start-up refuses a gateway nobody can sign in to; the seeder signs nobody in, but is checked the same.
                ["Gateway:Login:AllowDevUsers"] = "true",
                ["Gateway:Login:DevUsers:0:Name"] = Logins.User,
                ["Gateway:Login:DevUsers:0:Password"] = Logins.Password,
                ["Logging:LogLevel:Default"] = "Warning",
            });
            builder.AddGateway();
            var app = builder.Build();
            await app.PrepareGatewayAsync();
            // The key ring loads in the background (the gateway replica wrote it); until then nothing can be protected.
            var cookies = app.Services.GetRequiredService<SessionCookies>();
            for (var attempt = 0; ; attempt++)
            {
                try
                {
                    cookies.Protect(SessionKey.NewFor("probe"));
                    return new Seeder(app);
                }
                catch (System.Security.Cryptography.CryptographicException) when (attempt < 100)
                {
                    await Task.Delay(100);
                }
            }
        }

        public async Task<List<string>> SeedAsync(int from, int count)
        {
            var sessions = _app.Services.GetRequiredService<SessionManager>();
            var cookies = _app.Services.GetRequiredService<SessionCookies>();
            var result = new string[count];
            var next = -1;
            var now = DateTimeOffset.UtcNow;
            await Task.WhenAll(Enumerable.Range(0, 128).Select(async _ =>
            {
                int i;
                while ((i = Interlocked.Increment(ref next)) < count)
                {
                    var n = from + i;
                    var user = $"user{n % 100_000}";
                    var key = await sessions.CreateAsync(new SessionRecord
                    {
                        UserId = user, Email = user + "@example.org", Name = "User " + n.ToString(CultureInfo.InvariantCulture), Roles = ["editor"],
                        CreatedAt = now, AbsoluteExpiresAt = now.AddHours(8), Method = "dev", Device = "Firefox on Linux", Network = "203.0.113.0/24",
                    }, CancellationToken.None);
                    result[i] = "gw_session=" + cookies.Protect(key);
                }
            }));
            return [.. result];
        }

        public async ValueTask DisposeAsync() => await _app.DisposeAsync();
    }
}
