using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;

namespace Bench;

/// <summary>
/// Every target side by side in one run, alternating each round: the upstream alone, nginx proxy_pass, bare YARP,
/// bare YARP making the same edits on the wire as the gateway's signed-in request (b2), the gateway (anonymous; an anonymous route with the session cookie; signed in with identity headers, with and
/// without the signed assertion) and the peer a team would otherwise deploy: Apache httpd + mod_auth_openidc with
/// Redis sessions, signed in through the rig's oidc-provider. For each: req/s, p50, p99, the server's own CPU per
/// request (its process tree, from /proc: far steadier than req/s on a shared machine) and Redis commands per
/// request; then the ratios to bare YARP and to the peer, all as medians over the rounds. Then login, logout and
/// cross-replica revocation. Options: --duration S --rounds N --connections C --otel --baseline-dll PATH --only KEYS (e.g. b2,c,d; b always runs).
/// </summary>
internal static class Driver
{
    private static readonly string[] BareRatios = ["a2", "b2", "c", "c2", "d", "e", "p", "f", "g", "z"];
    private static readonly string[] PeerRatios = ["d", "e"];

    private sealed record Target(string Key, string Name, string Url, string? Cookie, Process Server);

    public static async Task<int> RunAsync(string[] args)
    {
        var duration = Options.Int(args, "--duration", 5);
        var rounds = Options.Int(args, "--rounds", 5);
        var connections = Options.Int(args, "--connections", 32);
        var baselineDll = Options.String(args, "--baseline-dll");
        var otel = args.Contains("--otel");
        var root = Options.Root();
        var gatewayDll = Path.Combine(root, "Gateway", "bin", "Release", "net10.0", "Gateway.dll");
        var work = Directory.CreateTempSubdirectory("gwbench").FullName;
        try
        {
            var redisPort = Processes.FreePort();
            Peers.StartRedis(work, redisPort);
            var upstreamPort = Processes.FreePort();
            var upstreamServer = Peers.StartUpstream(work, upstreamPort);
            var upstream = $"http://127.0.0.1:{upstreamPort}/";
            var barePort = Processes.FreePort();
            var bare = Peers.StartBareYarp(barePort, upstream);
            var nginxPort = Processes.FreePort();
            var nginx = Peers.StartNginxProxy(work, nginxPort, upstreamPort);
            var idpPort = Processes.FreePort();
            var apachePort = Processes.FreePort();
            Peers.StartIdentityProvider(root, idpPort, $"http://127.0.0.1:{apachePort}/protected/redirect_uri");
            await Processes.WaitUpAsync($"http://127.0.0.1:{idpPort}/.well-known/openid-configuration");
            var apache = Peers.StartApache(work, apachePort, idpPort, redisPort, upstreamPort);

            await using var capture = await HeaderCapture.StartAsync();
            File.WriteAllText(Path.Combine(work, "proxy.json"), Gateways.RouteFile(upstream, capture.Url));
            var (gatewayA, processA) = Gateways.Start(gatewayDll, work, redisPort);
            var (gatewayB, _) = Gateways.Start(gatewayDll, work, redisPort);
            foreach (var url in new[] { upstream, $"http://127.0.0.1:{barePort}/", $"http://127.0.0.1:{nginxPort}/", $"http://127.0.0.1:{apachePort}/",
                                        $"{gatewayA}/readyz", $"{gatewayB}/readyz" })
                await Processes.WaitUpAsync(url, 60);

            var cookie = await Logins.GatewayAsync(gatewayA);
            // b2: bare YARP told to make the same edits to the same requests (the identity headers the gateway sent for this
            // session, captured, as static values): what is left between it and d is the gateway's own work (header
            // stripping, the session, the route's rule, its middlewares). With --otel the gateways also send traceparent.
            var edits = Path.Combine(work, "b2-edits.txt");
            await File.WriteAllLinesAsync(edits, (await capture.CaptureAsync($"{gatewayA}/bench/capture/page", cookie)).Select(h => $"{h.Key}: {h.Value}"));
            var bare2Port = Processes.FreePort();
            var bare2 = Peers.StartBareYarp(bare2Port, upstream, edits);
            await Processes.WaitUpAsync($"http://127.0.0.1:{bare2Port}/", 60);
            var apacheCookie = await Logins.OidcAsync($"http://127.0.0.1:{apachePort}/protected/bench/page", Logins.User);
            var targets = new List<Target>
            {
                new("a", "upstream (nginx return 200)", $"{upstream}bench/page", null, upstreamServer),
                new("a2", "nginx proxy_pass", $"http://127.0.0.1:{nginxPort}/bench/page", null, nginx),
                new("b", "bare YARP", $"http://127.0.0.1:{barePort}/bench/page", null, bare),
                new("b2", "bare YARP + d's header edits (static)", $"http://127.0.0.1:{bare2Port}/bench/signed/page", cookie, bare2),
                new("c", "gateway, anonymous", $"{gatewayA}/bench/page", null, processA),
                new("c2", "gateway, anonymous route + cookie", $"{gatewayA}/bench/page", cookie, processA),
                new("d", "gateway, signed in, headers + assertion", $"{gatewayA}/bench/signed/page", cookie, processA),
                new("e", "gateway, signed in, headers only", $"{gatewayA}/bench/noassert/page", cookie, processA),
                new("p", "Apache + mod_auth_openidc, signed in", $"http://127.0.0.1:{apachePort}/protected/bench/page", apacheCookie, apache),
            };
            if (otel)
            {
                // OTLP export to the upstream, which answers every POST: what is measured is the instrumentation and the exporter.
                var (metrics, metricsProcess) = Gateways.Start(gatewayDll, work, redisPort, new Dictionary<string, string> { ["Gateway__OtlpEndpoint"] = $"{upstream}v1/metrics" });
                var (traces, tracesProcess) = Gateways.Start(gatewayDll, work, redisPort, new Dictionary<string, string>
                    { ["Gateway__OtlpEndpoint"] = $"{upstream}v1/metrics", ["Gateway__OtlpHttpMetrics"] = "true", ["Gateway__OtlpTraces"] = "true" });
                await Processes.WaitUpAsync($"{metrics}/readyz", 60);
                await Processes.WaitUpAsync($"{traces}/readyz", 60);
                targets.Add(new("f", "d with OTel gateway metrics", $"{metrics}/bench/signed/page", cookie, metricsProcess));
                targets.Add(new("g", "d with OTel HTTP metrics + traces", $"{traces}/bench/signed/page", cookie, tracesProcess));
            }
            {
                // l: d with Gateway:LegacySignIn on (the CMS user id from a claim): the held CMS cookie on every request.
                var (legacy, legacyProcess) = Gateways.Start(gatewayDll, work, redisPort, new Dictionary<string, string>
                {
                    ["Gateway__LegacySignIn__Enabled"] = "true", ["Gateway__LegacySignIn__Secrets__0"] = "bench-cms-secret",
                    ["Gateway__LegacySignIn__UserId__Claim"] = "sub",
                });
                await Processes.WaitUpAsync($"{legacy}/readyz", 60);
                targets.Add(new("l", "d with LegacySignIn (CMS cookie held)", $"{legacy}/bench/signed/page", await Logins.GatewayAsync(legacy), legacyProcess));
            }
            if (baselineDll is not null)
            {
                // Its own keys and key ring in the shared Redis: another build may not read this one's.
                var (baseline, baselineProcess) = Gateways.Start(baselineDll, work, redisPort,
                    new Dictionary<string, string> { ["Gateway__Redis__KeyPrefix"] = "baseline:", ["Gateway__Redis__DataProtectionKey"] = "baseline:DataProtection-Keys" });
                await Processes.WaitUpAsync($"{baseline}/healthz");
                targets.Add(new("z", "d on the baseline build", $"{baseline}/bench/signed/page", await Logins.GatewayAsync(baseline), baselineProcess));
            }

            // --only b,b2,d: just these targets (more rounds of the ones a change is about, in the same time).
            var only = Options.String(args, "--only");
            if (only is not null)
            {
                var keep = only.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet(StringComparer.Ordinal);
                var unknown = keep.Where(k => targets.All(t => t.Key != k)).ToList();
                if (unknown.Count > 0) throw new ArgumentException($"--only: no target {string.Join(", ", unknown)} (targets: {string.Join(", ", targets.Select(t => t.Key))})");
                targets.RemoveAll(t => !keep.Contains(t.Key) && t.Key != "b");
            }

            // Warm-up: JIT tiers, connection pools, caches. Two rounds, so every target has seen load after every other.
            for (var i = 0; i < 2; i++)
                foreach (var t in targets) await Wrk.RunAsync(t.Url, t.Cookie, 3, connections, t.Server, null, strict: false);

            var results = targets.ToDictionary(t => t.Key, _ => new List<WrkResult>());
            for (var round = 0; round < rounds; round++)
                foreach (var t in targets)
                    results[t.Key].Add(await Wrk.RunAsync(t.Url, t.Cookie, duration, connections, t.Server, redisPort));

            var report = new StringBuilder();
            void Line(string text) => report.AppendLine(text);
            Line($"Gateway benchmark, {DateTime.UtcNow:u}, {Environment.ProcessorCount} cores, wrk -t1 -c{connections} -d{duration}s, {rounds} rounds alternating the targets; medians.");
            Line(FormattableString.Invariant($"{"",-4}{"target",-42}{"req/s",9}{"p50 ms",9}{"p99 ms",9}{"CPU µs/req",12}{"Redis/req",11}"));
            var m = results.ToDictionary(kv => kv.Key, kv => Medians(kv.Value));
            foreach (var t in targets)
            {
                var r = m[t.Key];
                Line(FormattableString.Invariant($"{t.Key,-4}{t.Name,-42}{r.Rps,9:0}{r.P50,9:0.00}{r.P99,9:0.00}{r.Cpu,12:0.0}{r.Redis,11:0.0000}"));
            }
            Line("");
            Line("ratios to bare YARP (b)                       CPU/req   req/s    p99");
            foreach (var key in BareRatios.Where(m.ContainsKey))
                Line(FormattableString.Invariant($"  {key,-3}{targets.Single(t => t.Key == key).Name,-33}{m[key].Cpu / m["b"].Cpu,7:0.000}{m[key].Rps / m["b"].Rps,8:0.000}{m[key].P99 / m["b"].P99,7:0.000}"));
            if (m.ContainsKey("p")) Line("ratios to the peer (p, Apache + mod_auth_openidc)");
            foreach (var key in PeerRatios.Where(k => m.ContainsKey(k) && m.ContainsKey("p")))
                Line(FormattableString.Invariant($"  {key,-3}{targets.Single(t => t.Key == key).Name,-33}{m[key].Cpu / m["p"].Cpu,7:0.000}{m[key].Rps / m["p"].Rps,8:0.000}{m[key].P99 / m["p"].P99,7:0.000}"));
            if (m.TryGetValue("d", out var d))
            {
                if (m.TryGetValue("b2", out var b2))
                    Line(FormattableString.Invariant($"the gateway's own work on a signed-in request, same bytes on the wire (d/b2): CPU {d.Cpu / b2.Cpu:0.000}, req/s {d.Rps / b2.Rps:0.000}, p99 {d.P99 / b2.P99:0.000}"));
                if (m.TryGetValue("l", out var l)) Line(FormattableString.Invariant($"LegacySignIn on vs off (l/d): CPU {l.Cpu / d.Cpu:0.000}, req/s {l.Rps / d.Rps:0.000}, p99 {l.P99 / d.P99:0.000}"));
                if (m.TryGetValue("z", out var z)) Line(FormattableString.Invariant($"this build vs the baseline build (d/z): CPU {d.Cpu / z.Cpu:0.000}, req/s {d.Rps / z.Rps:0.000}"));
            }
            Line("");

            if (only is null) await LoginLogoutAndRevocationAsync(gatewayA, gatewayB, Line);

            // A run of some targets is not the published side-by-side figure.
            await Processes.SaveReportAsync(root, only is null ? "latest.txt" : "only.txt", report.ToString());
            return 0;
        }
        finally
        {
            Processes.StopAllAndDelete(work);
        }
    }

    private static async Task LoginLogoutAndRevocationAsync(string gatewayA, string gatewayB, Action<string> line)
    {
        var (loginP50, loginP99, logoutP50, logoutP99) = await LoginLogoutLatencyAsync(gatewayA, 200);
        line(FormattableString.Invariant($"login POST latency (200 sequential): p50 {loginP50:0.00} ms, p99 {loginP99:0.00} ms"));
        line(FormattableString.Invariant($"logout latency (200 sequential):     p50 {logoutP50:0.00} ms, p99 {logoutP99:0.00} ms"));
        var (loginRate, loginConcurrentP99, logoutRate, logoutConcurrentP99) = await LoginLogoutThroughputAsync(gatewayA, 16, 2000);
        line(FormattableString.Invariant($"login throughput (16 concurrent, 2000): {loginRate:0}/s, p99 {loginConcurrentP99:0.00} ms; logout {logoutRate:0}/s, p99 {logoutConcurrentP99:0.00} ms"));
        var (revP50, revP99, revMax) = await RevocationLatencyAsync(gatewayA, gatewayB, 100);
        line(FormattableString.Invariant($"logout on A until B refuses (100 runs): p50 {revP50:0.00} ms, p99 {revP99:0.00} ms, max {revMax:0.00} ms"));
    }

    public sealed record Median(double Rps, double P50, double P99, double Cpu, double Redis);

    /// <summary>Each figure's own median over the rounds.</summary>
    public static Median Medians(List<WrkResult> runs)
    {
        static double Mid(IEnumerable<double> values) { var s = values.Order().ToList(); return s.Count == 0 ? 0 : s[s.Count / 2]; }
        return new Median(Mid(runs.Select(r => r.Rps)), Mid(runs.Select(r => r.P50)), Mid(runs.Select(r => r.P99)),
            Mid(runs.Select(r => r.CpuMicros ?? 0)), Mid(runs.Select(r => r.RedisPerRequest ?? 0)));
    }

    private static async Task<(double, double, double, double)> LoginLogoutLatencyAsync(string gateway, int count)
    {
        var login = new List<double>();
        var logout = new List<double>();
        for (var i = 0; i < count; i++)
        {
            var (a, b) = await LoginLogoutOnceAsync(gateway);
            login.Add(a);
            logout.Add(b);
        }
        return (Percentile(login, 50), Percentile(login, 99), Percentile(logout, 50), Percentile(logout, 99));
    }

    /// <summary>Many browsers signing in and out at once: each login POST and each logout timed; rates over the wall time of each phase.</summary>
    private static async Task<(double, double, double, double)> LoginLogoutThroughputAsync(string gateway, int concurrency, int total)
    {
        var login = new List<double>();
        var logout = new List<double>();
        var clients = new List<HttpClient>();
        var remaining = total;
        var loginClock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async _ =>
        {
            while (Interlocked.Decrement(ref remaining) >= 0)
            {
                var http = Browser(gateway);
                var elapsed = await Logins.TimedGatewayLoginAsync(http);
                lock (login) { login.Add(elapsed); clients.Add(http); }
            }
        }));
        var loginSeconds = loginClock.Elapsed.TotalSeconds;
        var queue = new System.Collections.Concurrent.ConcurrentQueue<HttpClient>(clients);
        var logoutClock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async _ =>
        {
            while (queue.TryDequeue(out var http))
            {
                var elapsed = await Logins.TimedGatewayLogoutAsync(http);
                lock (logout) logout.Add(elapsed);
                http.Dispose();
            }
        }));
        var logoutSeconds = logoutClock.Elapsed.TotalSeconds;
        return (total / loginSeconds, Percentile(login, 99), total / logoutSeconds, Percentile(logout, 99));
    }

    private static async Task<(double Login, double Logout)> LoginLogoutOnceAsync(string gateway)
    {
        using var http = Browser(gateway);
        return (await Logins.TimedGatewayLoginAsync(http), await Logins.TimedGatewayLogoutAsync(http));
    }

    /// <summary>A client with its own cookie jar that does not follow redirects, as one browser.</summary>
    private static HttpClient Browser(string gateway) =>
        new(new HttpClientHandler { CookieContainer = new CookieContainer(), AllowAutoRedirect = false }) { BaseAddress = new Uri(gateway) };

    private static async Task<(double, double, double)> RevocationLatencyAsync(string a, string b, int count)
    {
        var samples = new List<double>();
        using var probe = new HttpClient { BaseAddress = new Uri(b) };
        for (var i = 0; i < count; i++)
        {
            using var handler = new HttpClientHandler { CookieContainer = new CookieContainer(), AllowAutoRedirect = false };
            using var onA = new HttpClient(handler) { BaseAddress = new Uri(a) };
            await Logins.PostGatewayLoginAsync(onA);
            var cookie = handler.CookieContainer.GetCookies(new Uri(a))["gw_session"]!.Value;
            HttpRequestMessage OnB() { var r = new HttpRequestMessage(HttpMethod.Get, "/bench/signed/x"); r.Headers.Add("Cookie", $"gw_session={cookie}"); r.Headers.Add("Accept", "application/json"); return r; }
            for (var w = 0; w < 3; w++) (await probe.SendAsync(OnB())).EnsureSuccessStatusCode(); // B has it cached
            await Logins.TimedGatewayLogoutAsync(onA);
            var watch = Stopwatch.StartNew();
            while ((await probe.SendAsync(OnB())).StatusCode == HttpStatusCode.OK && watch.ElapsedMilliseconds < 5000) { }
            samples.Add(watch.Elapsed.TotalMilliseconds);
        }
        return (Percentile(samples, 50), Percentile(samples, 99), samples.Max());
    }

    public static double Percentile(List<double> values, double p)
    {
        var sorted = values.OrderBy(v => v).ToList();
        return sorted[(int)Math.Min(sorted.Count - 1, Math.Max(0, Math.Ceiling(p / 100 * sorted.Count) - 1))];
    }
}

internal static class Options
{
    public static int Int(string[] args, string name, int fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
    }

    /// <summary>A comma list of counts (<c>--sessions 1000,100000</c>), or <paramref name="fallback"/>.</summary>
    public static int[] Ints(string[] args, string name, params int[] fallback) =>
        String(args, name) is { } list ? list.Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray() : fallback;

    public static string? String(string[] args, string name)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    public static string Root()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Gateway.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("run from inside the repository");
    }
}
