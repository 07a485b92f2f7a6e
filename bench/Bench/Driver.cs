using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;

namespace Bench;

/// <summary>
/// Runs every measurement side by side in one run and prints ratios, never absolute targets:
/// wrk against (a) the upstream, (b) bare YARP, (c) the gateway anonymous, (d) the gateway signed in
/// with headers and assertion, (e) signed in without the assertion, alternating a-e each round;
/// Redis commands per signed-in request; login and logout latency; revocation latency across replicas.
/// Besides req/s and latency, each target reports the server process's own CPU per request (utime+stime
/// from /proc/PID/stat), which is far steadier than req/s on a shared machine. Optional targets:
/// the gateway with OpenTelemetry metrics (f) and metrics + traces (g) exporting over OTLP, and, with
/// <c>--baseline-dll PATH</c>, another build of the gateway (z) for before/after figures in one run.
/// </summary>
internal static partial class Driver
{
    private static readonly List<Process> Children = [];

    public static async Task<int> RunAsync(string[] args)
    {
        var duration = Option(args, "--duration", 5);
        var rounds = Option(args, "--rounds", 3);
        var connections = Option(args, "--connections", 32);
        var baselineDll = StringOption(args, "--baseline-dll");
        var root = FindRoot();
        var gatewayDll = Path.Combine(root, "Gateway", "bin", "Release", "net10.0", "Gateway.dll");
        var benchDll = typeof(Driver).Assembly.Location;
        var work = Directory.CreateTempSubdirectory("gwbench").FullName;
        AppDomain.CurrentDomain.ProcessExit += (_, _) => StopAll();
        Console.CancelKeyPress += (_, _) => StopAll();
        try
        {
            var redisPort = FreePort();
            Start("redis-server", ["--port", $"{redisPort}", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", work]);
            var upstreamPort = FreePort();
            Start("dotnet", [benchDll, "serve-upstream", $"{upstreamPort}"]);
            var upstream = $"http://127.0.0.1:{upstreamPort}/";
            var barePort = FreePort();
            var bare = Start("dotnet", [benchDll, "serve-bare-proxy", $"{barePort}", upstream]);
            var nginxPort = FreePort();
            var nginx = StartNginx(work, nginxPort, upstreamPort);

            File.WriteAllText(Path.Combine(work, "proxy.json"), RouteFile(upstream));
            var (gatewayA, processA) = StartGateway(gatewayDll, work, redisPort);
            var (gatewayB, _) = StartGateway(gatewayDll, work, redisPort);
            // OTLP export to the upstream, which answers every POST: the cost measured is the instrumentation and the exporter.
            var (gatewayMetrics, processMetrics) = StartGateway(gatewayDll, work, redisPort, new() { ["Gateway__OtlpEndpoint"] = $"{upstream}v1/metrics" });
            var (gatewayTraces, processTraces) = StartGateway(gatewayDll, work, redisPort,
                new() { ["Gateway__OtlpEndpoint"] = $"{upstream}v1/metrics", ["Gateway__OtlpHttpMetrics"] = "true", ["Gateway__OtlpTraces"] = "true" });
            // Its own keys and key ring in the shared Redis: another build may not read this one's (or write a ring this one rejects).
            var baseline = baselineDll is null ? ((string, Process)?)null : StartGateway(baselineDll, work, redisPort,
                new() { ["Gateway__Redis__KeyPrefix"] = "baseline:", ["Gateway__Redis__DataProtectionKey"] = "baseline:DataProtection-Keys" });
            foreach (var url in new[] { upstream, $"http://127.0.0.1:{barePort}/", $"http://127.0.0.1:{nginxPort}/", $"{gatewayA}/healthz", $"{gatewayB}/healthz", $"{gatewayMetrics}/healthz", $"{gatewayTraces}/healthz" })
                await WaitUpAsync(url);
            if (baseline is { } b0) await WaitUpAsync($"{b0.Item1}/healthz");

            var cookie = await LoginAsync(gatewayA, "bench");
            var targetList = new List<(string Name, string Url, string? Cookie, Process? Server)>
            {
                ("a upstream", $"{upstream}bench/page", null, null),
                ("a2 nginx proxy_pass", $"http://127.0.0.1:{nginxPort}/bench/page", null, nginx),
                ("b bare YARP", $"http://127.0.0.1:{barePort}/bench/page", null, bare),
                ("c gateway anonymous", $"{gatewayA}/bench/page", null, processA),
                ("c2 gateway anonymous route, with a cookie", $"{gatewayA}/bench/page", cookie, processA),
                ("d gateway signed in (headers + assertion)", $"{gatewayA}/bench/signed/page", cookie, processA),
                ("e gateway signed in (headers, no assertion)", $"{gatewayA}/bench/noassert/page", cookie, processA),
                ("f d with OTel gateway metrics", $"{gatewayMetrics}/bench/signed/page", cookie, processMetrics),
                ("g d with OTel all metrics + traces", $"{gatewayTraces}/bench/signed/page", cookie, processTraces),
            };
            if (baseline is { } b1) targetList.Add(("z d on the baseline build", $"{b1.Item1}/bench/signed/page", await LoginAsync(b1.Item1, "bench"), b1.Item2));
            var targets = targetList.ToArray();
            foreach (var t in targets) await WrkAsync(t.Url, t.Cookie, 2, connections, t.Server, strict: false); // warm-up: JIT, connection pools, caches

            var results = targets.ToDictionary(t => t.Name, _ => new List<WrkResult>());
            long redisCommands = 0, signedRequests = 0;
            for (var round = 0; round < rounds; round++)
            {
                foreach (var t in targets)
                {
                    var before = t.Cookie is null ? 0 : await RedisCommandCountAsync(redisPort);
                    var r = await WrkAsync(t.Url, t.Cookie, duration, connections, t.Server);
                    if (t.Cookie is not null)
                    {
                        redisCommands += await RedisCommandCountAsync(redisPort) - before - 1; // minus our own INFO
                        signedRequests += r.Requests;
                    }
                    results[t.Name].Add(r);
                }
            }

            var report = new StringBuilder();
            report.AppendLine(CultureInfo.InvariantCulture, $"Gateway benchmark, {DateTime.UtcNow:u}, {Environment.ProcessorCount} cores, wrk -t1 -c{connections} -d{duration}s, {rounds} rounds alternating the targets; medians");
            report.AppendLine(CultureInfo.InvariantCulture, $"{"target",-46}{"req/s",10}{"p50 ms",9}{"p99 ms",9}{"cpu us/req",12}");
            var median = results.ToDictionary(kv => kv.Key, kv => Median(kv.Value));
            foreach (var (name, m) in median) report.AppendLine(CultureInfo.InvariantCulture, $"{name,-46}{m.Rps,10:0}{m.P50,9:0.00}{m.P99,9:0.00}{(m.CpuMicros is { } cpu ? cpu.ToString("0.0", CultureInfo.InvariantCulture) : "-"),12}");
            double Rps(string prefix) => median.First(kv => kv.Key.StartsWith(prefix, StringComparison.Ordinal)).Value.Rps;
            double Cpu(string prefix) => results.First(kv => kv.Key.StartsWith(prefix, StringComparison.Ordinal)).Value.Select(r => r.CpuMicros ?? 0).Order().ElementAt(rounds / 2);
            report.AppendLine(CultureInfo.InvariantCulture, $"cpu d/b (signed in, assertion, vs bare YARP) {Cpu("d") / Cpu("b"):0.000}");
            report.AppendLine(CultureInfo.InvariantCulture, $"cpu c/b (anonymous vs bare YARP)            {Cpu("c ") / Cpu("b"):0.000}");
            report.AppendLine(CultureInfo.InvariantCulture, $"cpu c2/b (public route with a cookie)       {Cpu("c2") / Cpu("b"):0.000}");
            report.AppendLine(CultureInfo.InvariantCulture, $"cpu a2/b (nginx proxy_pass vs bare YARP)    {Cpu("a2") / Cpu("b"):0.000}");
            report.AppendLine(CultureInfo.InvariantCulture, $"cpu f/d (cost of OTel gateway metrics)      {Cpu("f") / Cpu("d"):0.000}");
            report.AppendLine(CultureInfo.InvariantCulture, $"cpu g/d (cost of all OTel metrics + traces) {Cpu("g") / Cpu("d"):0.000}");
            if (baseline is not null) report.AppendLine(CultureInfo.InvariantCulture, $"cpu d/z (this build vs the baseline build)   {Cpu("d") / Cpu("z"):0.000}");
            report.AppendLine(CultureInfo.InvariantCulture, $"ratio c/b (anonymous gateway vs bare YARP)   {Rps("c") / Rps("b"):0.000}");
            report.AppendLine(CultureInfo.InvariantCulture, $"ratio c/a (anonymous gateway vs upstream)    {Rps("c") / Rps("a"):0.000}");
            report.AppendLine(CultureInfo.InvariantCulture, $"ratio d/b (signed in, assertion, vs bare)    {Rps("d") / Rps("b"):0.000}");
            report.AppendLine(CultureInfo.InvariantCulture, $"ratio e/b (signed in, no assertion, vs bare) {Rps("e") / Rps("b"):0.000}");
            report.AppendLine(CultureInfo.InvariantCulture, $"ratio d/e (cost of the cached assertion)     {Rps("d") / Rps("e"):0.000}");
            report.AppendLine(CultureInfo.InvariantCulture, $"Redis commands per signed-in request: {redisCommands} / {signedRequests} = {(double)redisCommands / Math.Max(1, signedRequests):0.000000}");

            var (loginP50, loginP99, logoutP50, logoutP99) = await LoginLogoutLatencyAsync(gatewayA, 200);
            report.AppendLine(CultureInfo.InvariantCulture, $"login POST latency (200 sequential): p50 {loginP50:0.00} ms, p99 {loginP99:0.00} ms");
            report.AppendLine(CultureInfo.InvariantCulture, $"logout latency (200 sequential):     p50 {logoutP50:0.00} ms, p99 {logoutP99:0.00} ms");
            var (revP50, revP99, revMax) = await RevocationLatencyAsync(gatewayA, gatewayB, 100);
            report.AppendLine(CultureInfo.InvariantCulture, $"logout on A until B refuses (100 runs): p50 {revP50:0.00} ms, p99 {revP99:0.00} ms, max {revMax:0.00} ms");

            Console.Write(report);
            Directory.CreateDirectory(Path.Combine(root, "bench", "results"));
            await File.WriteAllTextAsync(Path.Combine(root, "bench", "results", "latest.txt"), report.ToString());
            return 0;
        }
        finally
        {
            StopAll();
            try { Directory.Delete(work, true); } catch (IOException) { }
        }
    }

    private static (string Url, Process Process) StartGateway(string dll, string work, int redisPort, Dictionary<string, string>? extra = null)
    {
        var port = FreePort();
        var env = new Dictionary<string, string>
        {
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
            ["Logging__LogLevel__Default"] = "Warning",
            ["Gateway__ProxyConfigPath"] = Path.Combine(work, "proxy.json"),
            ["Gateway__Redis__Configuration"] = $"127.0.0.1:{redisPort}",
            ["Gateway__KeyRing__KeyEncryptionKey"] = "YmVuY2gtb25seS1rZXktZW5jcnlwdGlvbi1rZXktMzI=",
            ["Gateway__Login__AllowDevUsers"] = "true",
            ["Gateway__Login__AttemptsPerMinute"] = "100000",
            ["Gateway__Login__DevUsers__0__Name"] = "bench",
            ["Gateway__Login__DevUsers__0__Password"] = "bench-password",
            ["Gateway__Login__DevUsers__0__Email"] = "bench@example.test",
            ["Gateway__Login__DevUsers__0__Roles__0"] = "editor",
        };
        foreach (var (k, v) in extra ?? []) env[k] = v;
        var process = Start("dotnet", [dll, "--urls", $"http://127.0.0.1:{port}"], env, work);
        return ($"http://127.0.0.1:{port}", process);
    }

    /// <summary>nginx as a plain reverse proxy (one worker, keep-alive upstream): the floor a proxy in C can reach here.</summary>
    private static Process StartNginx(string work, int port, int upstreamPort)
    {
        var dir = Path.Combine(work, "nginx");
        Directory.CreateDirectory(Path.Combine(dir, "logs"));
        File.WriteAllText(Path.Combine(dir, "nginx.conf"), $$"""
            worker_processes 1; daemon off; pid {{dir}}/nginx.pid; error_log stderr error;
            events { worker_connections 1024; }
            http {
              access_log off;
              client_body_temp_path {{dir}}/body; proxy_temp_path {{dir}}/proxy; fastcgi_temp_path {{dir}}/fcgi; uwsgi_temp_path {{dir}}/uwsgi; scgi_temp_path {{dir}}/scgi;
              upstream up { server 127.0.0.1:{{upstreamPort}}; keepalive 64; }
              server { listen 127.0.0.1:{{port}}; location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; } }
            }
            """);
        return Start("nginx", ["-p", dir, "-c", Path.Combine(dir, "nginx.conf")]);
    }

    private static string RouteFile(string upstream) => $$"""
        { "ReverseProxy": {
            "Routes": {
              "bench-signed": { "ClusterId": "up", "AuthorizationPolicy": "default", "Match": { "Path": "/bench/signed/{**rest}" } },
              "bench-noassert": { "ClusterId": "up", "AuthorizationPolicy": "default", "Match": { "Path": "/bench/noassert/{**rest}" },
                                  "Metadata": { "Gateway.IdentityHeaders": "user,email,name,roles" } },
              "bench-public": { "ClusterId": "up", "AuthorizationPolicy": "anonymous", "Order": 100, "Match": { "Path": "{**catch-all}" } } },
            "Clusters": { "up": { "Destinations": { "a": { "Address": "{{upstream}}" } } } } } }
        """;

    private sealed record WrkResult(double Rps, double P50, double P99, long Requests, double? CpuMicros);

    /// <summary>utime + stime of a process and all its descendants (nginx's workers) in microseconds (clock ticks of 10 ms).</summary>
    private static long CpuMicros(Process process)
    {
        var stats = new Dictionary<int, (int Parent, long Ticks)>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid)) continue;
            string stat;
            try { stat = File.ReadAllText(Path.Combine(dir, "stat")); }
            catch (IOException) { continue; }
            // Fields after the command name (field 2): state, ppid, ... utime (14), stime (15).
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

    private static async Task<WrkResult> WrkAsync(string url, string? cookie, int seconds, int connections, Process? server, bool strict = true)
    {
        var cpuBefore = server is null ? 0 : CpuMicros(server);
        var args = new List<string> { "-t1", $"-c{connections}", $"-d{seconds}s", "--latency" };
        if (cookie is not null) args.AddRange(["-H", $"Cookie: gw_session={cookie}"]);
        args.Add(url);
        var output = await RunToEndAsync("wrk", args);
        double Latency(string pct)
        {
            var m = Regex.Match(output, $@"^\s+{pct}%\s+([\d.]+)(us|ms|s)", RegexOptions.Multiline);
            var v = double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
            return m.Groups[2].Value switch { "us" => v / 1000, "s" => v * 1000, _ => v };
        }
        var non2xx = Regex.Match(output, @"Non-2xx or 3xx responses: (\d+)");
        if (non2xx.Success && strict) throw new InvalidOperationException($"{url}: {non2xx.Groups[1].Value} non-2xx responses:\n{output}");
        var requests = long.Parse(Regex.Match(output, @"(\d+) requests in").Groups[1].Value, CultureInfo.InvariantCulture);
        double? cpu = server is null ? null : (double)(CpuMicros(server) - cpuBefore) / Math.Max(1, requests);
        return new WrkResult(double.Parse(Regex.Match(output, @"Requests/sec:\s+([\d.]+)").Groups[1].Value, CultureInfo.InvariantCulture),
            Latency("50"), Latency("99"), requests, cpu);
    }

    private static WrkResult Median(List<WrkResult> runs)
    {
        var sorted = runs.OrderBy(r => r.Rps).ToList();
        return sorted[sorted.Count / 2];
    }

    private static async Task<long> RedisCommandCountAsync(int port)
    {
        var info = await RunToEndAsync("redis-cli", ["-p", $"{port}", "info", "commandstats"]);
        return Regex.Matches(info, @"calls=(\d+)").Sum(m => long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture));
    }

    private static async Task<string> LoginAsync(string gateway, string user)
    {
        using var handler = new HttpClientHandler { CookieContainer = new CookieContainer(), AllowAutoRedirect = false };
        using var http = new HttpClient(handler) { BaseAddress = new Uri(gateway) };
        await PostLoginAsync(http, user);
        return handler.CookieContainer.GetCookies(new Uri(gateway))["gw_session"]!.Value;
    }

    private static async Task<HttpResponseMessage> PostLoginAsync(HttpClient http, string user)
    {
        var form = await http.GetStringAsync("/login");
        var token = Regex.Match(form, "name=\"__gw_af\" value=\"([^\"]+)\"").Groups[1].Value;
        var response = await http.PostAsync("/login", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__gw_af"] = WebUtility.HtmlDecode(token), ["username"] = user, ["password"] = "bench-password",
        }));
        if (response.StatusCode != HttpStatusCode.SeeOther) throw new InvalidOperationException($"login failed: {response.StatusCode}");
        return response;
    }

    private static async Task<(double, double, double, double)> LoginLogoutLatencyAsync(string gateway, int count)
    {
        var login = new List<double>();
        var logout = new List<double>();
        for (var i = 0; i < count; i++)
        {
            using var handler = new HttpClientHandler { CookieContainer = new CookieContainer(), AllowAutoRedirect = false };
            using var http = new HttpClient(handler) { BaseAddress = new Uri(gateway) };
            var form = await http.GetStringAsync("/login");
            var token = WebUtility.HtmlDecode(Regex.Match(form, "name=\"__gw_af\" value=\"([^\"]+)\"").Groups[1].Value);
            var watch = Stopwatch.StartNew();
            var response = await http.PostAsync("/login", new FormUrlEncodedContent(new Dictionary<string, string> { ["__gw_af"] = token, ["username"] = "bench", ["password"] = "bench-password" }));
            login.Add(watch.Elapsed.TotalMilliseconds);
            if (response.StatusCode != HttpStatusCode.SeeOther) throw new InvalidOperationException($"login failed: {response.StatusCode}");
            var request = new HttpRequestMessage(HttpMethod.Get, "/logout");
            request.Headers.Add("Sec-Fetch-Site", "same-origin");
            watch.Restart();
            var done = await http.SendAsync(request);
            logout.Add(watch.Elapsed.TotalMilliseconds);
            if (done.StatusCode != HttpStatusCode.Found) throw new InvalidOperationException($"logout failed: {done.StatusCode}");
        }
        return (Percentile(login, 50), Percentile(login, 99), Percentile(logout, 50), Percentile(logout, 99));
    }

    private static async Task<(double, double, double)> RevocationLatencyAsync(string a, string b, int count)
    {
        var samples = new List<double>();
        using var probe = new HttpClient { BaseAddress = new Uri(b) };
        for (var i = 0; i < count; i++)
        {
            using var handler = new HttpClientHandler { CookieContainer = new CookieContainer(), AllowAutoRedirect = false };
            using var onA = new HttpClient(handler) { BaseAddress = new Uri(a) };
            await PostLoginAsync(onA, "bench");
            var cookie = handler.CookieContainer.GetCookies(new Uri(a))["gw_session"]!.Value;
            HttpRequestMessage OnB() { var r = new HttpRequestMessage(HttpMethod.Get, "/bench/signed/x"); r.Headers.Add("Cookie", $"gw_session={cookie}"); r.Headers.Add("Accept", "application/json"); return r; }
            for (var w = 0; w < 3; w++) (await probe.SendAsync(OnB())).EnsureSuccessStatusCode(); // B has it cached
            var logout = new HttpRequestMessage(HttpMethod.Get, "/logout");
            logout.Headers.Add("Sec-Fetch-Site", "same-origin");
            (await onA.SendAsync(logout)).Dispose();
            var watch = Stopwatch.StartNew();
            while ((await probe.SendAsync(OnB())).StatusCode == HttpStatusCode.OK && watch.ElapsedMilliseconds < 5000) { }
            samples.Add(watch.Elapsed.TotalMilliseconds);
        }
        return (Percentile(samples, 50), Percentile(samples, 99), samples.Max());
    }

    private static double Percentile(List<double> values, double p)
    {
        var sorted = values.OrderBy(v => v).ToList();
        return sorted[(int)Math.Min(sorted.Count - 1, Math.Ceiling(p / 100 * sorted.Count) - 1)];
    }

    private static Process Start(string file, IEnumerable<string> args, IDictionary<string, string>? env = null, string? cwd = null)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = cwd ?? "" };
        foreach (var a in args) info.ArgumentList.Add(a);
        if (env is not null) foreach (var (k, v) in env) info.Environment[k] = v;
        var process = Process.Start(info)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null && file != "redis-server") Console.Error.WriteLine($"[{Path.GetFileName(file)}] {e.Data}"); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        lock (Children) Children.Add(process);
        return process;
    }

    private static void StopAll()
    {
        lock (Children)
        {
            foreach (var p in Children)
                try { if (!p.HasExited) p.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            Children.Clear();
        }
    }

    private static async Task<string> RunToEndAsync(string file, IEnumerable<string> args)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) info.ArgumentList.Add(a);
        using var process = Process.Start(info)!;
        var output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        return output;
    }

    private static async Task WaitUpAsync(string url)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(1) };
        for (var i = 0; i < 300; i++)
        {
            try { if ((await http.GetAsync(url)).IsSuccessStatusCode) return; }
            catch (HttpRequestException) { }
            catch (TaskCanceledException) { }
            await Task.Delay(100);
        }
        throw new TimeoutException($"{url} did not come up.");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static int Option(string[] args, string name, int fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
    }

    private static string? StringOption(string[] args, string name)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    private static string FindRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Gateway.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("run from inside the repository");
    }
}
