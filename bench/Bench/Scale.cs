using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;

namespace Bench;

/// <summary>
/// How cost grows. First the live memory of one cached session (in this process, through the gateway's code).
/// Then real replicas on one Redis: sessions signed in through the login form, signed-in load spread at random
/// over 1k, 10k and 100k of them (cache hit rate from the store reads Redis counted, Redis commands per request,
/// CPU per request, RSS); 1,000 concurrent connections; and two replicas against one. Options: --sessions
/// 1000,10000,100000 --duration S --connections C; --baseline-dll PATH measures another build beside this one instead
/// (<see cref="CompareAsync"/>).
/// </summary>
internal static partial class Scale
{
    private const string SpreadScript = """
        local cookies = {}
        for line in io.lines(os.getenv("BENCH_COOKIES")) do cookies[#cookies + 1] = line end
        local n = tonumber(os.getenv("BENCH_SESSIONS"))
        math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 100000)
        request = function() return wrk.format("GET", nil, { ["Cookie"] = cookies[math.random(1, n)] }) end
        """;

    // Each session in turn from BENCH_START (wrk -t1: one Lua state, so the connections share the count).
    private const string WalkScript = """
        local cookies = {}
        for line in io.lines(os.getenv("BENCH_COOKIES")) do cookies[#cookies + 1] = line end
        local n = tonumber(os.getenv("BENCH_SESSIONS"))
        local i = tonumber(os.getenv("BENCH_START"))
        request = function() i = i % n + 1; return wrk.format("GET", nil, { ["Cookie"] = cookies[i] }) end
        """;

    /// <summary>
    /// Every one of the first <paramref name="sessions"/> sessions requested once, in turn, before the random load: a
    /// replica in steady use has met each of its live sessions. Random load alone leaves some never met after a minute
    /// (a fifth of 100k at 4,000 req/s), and each first meeting (cookie check, record decryption, a signature) is several
    /// times a hit's CPU: those counted in the rows as if they were the cost of holding many sessions.
    /// </summary>
    private static async Task WalkAsync(string gateway, string work, string cookieFile, int sessions, int connections)
    {
        // A file of its own: two builds walk at once.
        var script = Path.Combine(work, $"walk-{Guid.NewGuid():N}.lua");
        await File.WriteAllTextAsync(script, WalkScript);
        for (long done = 0; done < sessions;)
        {
            var run = await Wrk.RunOnceAsync($"{gateway}/bench/signed/page", null, 10, connections, script, new Dictionary<string, string>
            {
                ["BENCH_COOKIES"] = cookieFile, ["BENCH_SESSIONS"] = sessions.ToString(CultureInfo.InvariantCulture),
                ["BENCH_START"] = done.ToString(CultureInfo.InvariantCulture),
            });
            // A request lost to a socket error moved the walk on uncounted: its session would be skipped.
            if (run.Requests == 0 || run.Non2xx > 0 || run.Text.Contains("Socket errors", StringComparison.Ordinal))
                throw new InvalidOperationException($"walk: {run.Non2xx} non-2xx responses of {run.Requests}, or socket errors:\n{run.Text}");
            done += run.Requests;
        }
    }

    public static async Task<int> RunAsync(string[] args)
    {
        if (Options.String(args, "--baseline-dll") is { } baselineDll) return await CompareAsync(args, baselineDll);
        var counts = Options.Ints(args, "--sessions", 1_000, 10_000, 100_000);
        var duration = Options.Int(args, "--duration", 10);
        var connections = Options.Int(args, "--connections", 32);
        var root = Options.Root();
        var report = new StringBuilder();
        void Line(string text) { report.AppendLine(text); Console.WriteLine(text); }

        Line($"Scale, {DateTime.UtcNow:u}, {Environment.ProcessorCount} cores, Redis on loopback, signed in with headers + assertion, wrk -t1 -d{duration}s");
        foreach (var line in await CacheMemory.ReportLinesAsync()) Line(line);

        var work = Directory.CreateTempSubdirectory("gwscale").FullName;
        try
        {
            var gatewayDll = Path.Combine(root, "Gateway", "bin", "Release", "net10.0", "Gateway.dll");
            var redisPort = Processes.FreePort();
            Peers.StartRedis(work, redisPort);
            var upstreamPort = Processes.FreePort();
            Peers.StartUpstream(work, upstreamPort);
            File.WriteAllText(Path.Combine(work, "proxy.json"), Gateways.RouteFile($"http://127.0.0.1:{upstreamPort}/"));
            var (a, processA) = Gateways.Start(gatewayDll, work, redisPort);
            await Processes.WaitUpAsync($"{a}/readyz", 60);
            var idleRss = Processes.RssBytes(processA);

            var clock = Stopwatch.StartNew();
            var cookies = await SignInManyAsync(a, counts.Max());
            Line(FormattableString.Invariant($"signed in {cookies.Count:N0} sessions through the login form in {clock.Elapsed.TotalSeconds:0.0} s ({cookies.Count / clock.Elapsed.TotalSeconds:0}/s); RSS idle {idleRss / 1048576.0:0} MB, after {Processes.RssBytes(processA) / 1048576.0:0} MB"));
            var cookieFile = Path.Combine(work, "cookies.txt");
            await File.WriteAllLinesAsync(cookieFile, cookies);
            var script = Path.Combine(work, "spread.lua");
            await File.WriteAllTextAsync(script, SpreadScript);

            // Warm-up (JIT tiers, pools) on the smallest set, which also leaves those sessions cached as in steady use.
            await SpreadAsync(a, processA, null, script, cookieFile, counts.Min(), 5, connections);
            Line("");
            Line(FormattableString.Invariant($"{"live sessions",-16}{"conns",6}{"req/s",9}{"p99 ms",8}{"CPU µs/req",12}{"Redis/req",11}{"reads/req",11}{"RSS MB",8}"));
            // Each row after 5 s of the same load unmeasured: the cache holds what that many live sessions leave in it.
            // The largest set goes last: more live sessions than the cache holds would leave it full of entries the
            // smaller sets' rows would first have to outlive.
            var ordered = counts.Order().ToArray();
            var many = ordered.Length > 1 ? ordered[^2] : ordered[0];
            var rows = new List<Spread>();
            foreach (var n in ordered[..^1])
            {
                await SpreadAsync(a, processA, null, script, cookieFile, n, 5, connections);
                rows.Add(await SpreadAsync(a, processA, redisPort, script, cookieFile, n, duration, connections));
                Line(Row(n, connections, rows[^1]));
            }
            await SpreadAsync(a, processA, null, script, cookieFile, many, 5, 1000);
            Line(Row(many, 1000, await SpreadAsync(a, processA, redisPort, script, cookieFile, many, duration, 1000)));

            // The next replica: B beside A on the same Redis, the same spread load split over both at once.
            var (b, processB) = Gateways.Start(gatewayDll, work, redisPort);
            await Processes.WaitUpAsync($"{b}/readyz", 60);
            await SpreadAsync(b, processB, null, script, cookieFile, many, 5, connections);
            var one = await SpreadAsync(a, processA, null, script, cookieFile, many, duration, connections);
            var both = await Task.WhenAll(
                SpreadAsync(a, processA, null, script, cookieFile, many, duration, connections / 2),
                SpreadAsync(b, processB, null, script, cookieFile, many, duration, connections / 2));
            Processes.Stop(processB);

            var largest = ordered[^1];
            await WalkAsync(a, work, cookieFile, largest, connections);
            // A whole TouchInterval (1 min) of the same load first: each session's sliding-expiry write then comes at
            // the rate it has in steady use (once a minute per session used), not at the rate of a cold start.
            await SpreadAsync(a, processA, null, script, cookieFile, largest, 65, connections);
            var last = await SpreadAsync(a, processA, redisPort, script, cookieFile, largest, duration, connections);
            Line(Row(largest, connections, last));
            Line(FormattableString.Invariant($"  Redis commands per request at {largest:N0}: {last.Commands}"));
            if (rows.Count > 0) Line(FormattableString.Invariant($"  CPU per request {last.Cpu / rows[0].Cpu:0.00}x the {ordered[0]:N0}-session row; {(last.Cpu - rows[0].Cpu) / Math.Max(0.001, rows[0].HitRate - last.HitRate):0} µs of CPU more for each session read more (a request's or a read ahead's)"));
            Line("");
            Line(FormattableString.Invariant($"one replica, {many:N0} sessions: {one.Rps:0} req/s; two replicas on one Redis: {both.Sum(r => r.Rps):0} req/s together ({both[0].Rps:0} + {both[1].Rps:0}) on these {Environment.ProcessorCount} cores"));

            await Processes.SaveReportAsync(root, "scale.txt", report.ToString(), print: false);
            return 0;
        }
        finally
        {
            Processes.StopAllAndDelete(work);
        }
    }

    private sealed record Spread(double Rps, double P99, double Cpu, double RedisPerRequest, double HitRate, long Rss, string Commands = "", double RedisCpu = double.NaN);

    private static string Row(int sessions, int connections, Spread r) =>
        FormattableString.Invariant($"{sessions,-16:N0}{connections,6}{r.Rps,9:0}{r.P99,8:0.00}{r.Cpu,12:0.0}{r.RedisPerRequest,11:0.000}{1 - r.HitRate,11:0.000}{r.Rss / 1048576.0,8:0}");

    /// <summary>Signed-in requests, each with the cookie of one of the first <paramref name="sessions"/> sessions picked at random.</summary>
    private static async Task<Spread> SpreadAsync(string gateway, Process server, int? redisPort, string script, string cookieFile, int sessions, int seconds, int connections)
    {
        var cpuBefore = Processes.CpuMicros(server);
        var stats = redisPort is { } p ? await Wrk.CommandStatsAsync(p) : new Dictionary<string, long>();
        var redisCpuBefore = redisPort is { } r ? await Wrk.RedisCpuMicrosAsync(r) : 0;
        var run = await Wrk.RunOnceAsync($"{gateway}/bench/signed/page", null, seconds, connections, script, new Dictionary<string, string>
        {
            ["BENCH_COOKIES"] = cookieFile, ["BENCH_SESSIONS"] = sessions.ToString(CultureInfo.InvariantCulture),
        });
        var cpu = Processes.CpuMicros(server) - cpuBefore;
        var requests = run.Requests;
        if (requests == 0 || run.Non2xx > 0) throw new InvalidOperationException($"{run.Non2xx} non-2xx responses of {requests} with {sessions} sessions:\n{run.Text}");
        double redisPerRequest = 0, hitRate = double.NaN, redisCpu = double.NaN;
        var commands = "";
        if (redisPort is { } q)
        {
            var after = await Wrk.CommandStatsAsync(q);
            // The Redis's own CPU per request: what the gateway's reads and writes cost the store (on these cores too).
            redisCpu = (await Wrk.RedisCpuMicrosAsync(q) - redisCpuBefore) / requests;
            long Delta(string command) => after.GetValueOrDefault(command) - stats.GetValueOrDefault(command);
            redisPerRequest = (double)(after.Values.Sum() - stats.Values.Sum() - 1) / requests;
            // Every store read of a session is one MGET (record + user marker), a request's or a read ahead's (those come
            // 128 to a call, off the request path): reads/req counts both, so it is no cache miss rate.
            hitRate = 1 - (double)Delta("mget") / requests;
            commands = string.Join(", ", after.Keys.Select(c => (Command: c, PerRequest: (double)Delta(c) / requests)).Where(c => c.PerRequest >= 0.001)
                .OrderByDescending(c => c.PerRequest).Select(c => FormattableString.Invariant($"{c.Command} {c.PerRequest:0.000}")));
        }
        return new Spread(run.Rps, run.P99, (double)cpu / requests, redisPerRequest, hitRate, Processes.RssBytes(server), commands, redisCpu);
    }

    /// <summary>Sessions signed in through the login form, 16 browsers at a time: the Cookie header of each.</summary>
    private static async Task<List<string>> SignInManyAsync(string gateway, int count)
    {
        var cookies = new ConcurrentBag<string>();
        var remaining = count;
        using var shared = new HttpClient(new SocketsHttpHandler { UseCookies = false, AllowAutoRedirect = false, MaxConnectionsPerServer = 64 }) { BaseAddress = new Uri(gateway) };
        await Task.WhenAll(Enumerable.Range(0, 16).Select(async _ =>
        {
            while (Interlocked.Decrement(ref remaining) >= 0)
            {
                using var form = await shared.GetAsync("/login");
                var antiforgery = form.Headers.GetValues("Set-Cookie").First(c => c.StartsWith("gw_af=", StringComparison.Ordinal)).Split(';')[0];
                var token = Logins.AntiforgeryToken(await form.Content.ReadAsStringAsync());
                using var post = new HttpRequestMessage(HttpMethod.Post, "/login")
                {
                    Content = Logins.Form(token),
                };
                post.Headers.Add("Cookie", antiforgery);
                using var response = await shared.SendAsync(post);
                if (response.StatusCode != HttpStatusCode.SeeOther) throw new InvalidOperationException($"login failed: {response.StatusCode}");
                cookies.Add(response.Headers.GetValues("Set-Cookie").First(c => c.StartsWith("gw_session=", StringComparison.Ordinal)).Split(';')[0]);
            }
        }));
        return [.. cookies];
    }


}
