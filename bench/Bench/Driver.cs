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
/// </summary>
internal static partial class Driver
{
    private static readonly List<Process> Children = [];

    public static async Task<int> RunAsync(string[] args)
    {
        var duration = Option(args, "--duration", 5);
        var rounds = Option(args, "--rounds", 3);
        var connections = Option(args, "--connections", 32);
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
            Start("dotnet", [benchDll, "serve-bare-proxy", $"{barePort}", upstream]);

            File.WriteAllText(Path.Combine(work, "proxy.json"), RouteFile(upstream));
            var gatewayA = StartGateway(gatewayDll, work, redisPort);
            var gatewayB = StartGateway(gatewayDll, work, redisPort);
            foreach (var url in new[] { upstream, $"http://127.0.0.1:{barePort}/", $"{gatewayA}/healthz", $"{gatewayB}/healthz" }) await WaitUpAsync(url);

            var cookie = await LoginAsync(gatewayA, "bench");
            var targets = new (string Name, string Url, string? Cookie)[]
            {
                ("a upstream", $"{upstream}bench/page", null),
                ("b bare YARP", $"http://127.0.0.1:{barePort}/bench/page", null),
                ("c gateway anonymous", $"{gatewayA}/bench/page", null),
                ("d gateway signed in (headers + assertion)", $"{gatewayA}/bench/signed/page", cookie),
                ("e gateway signed in (headers, no assertion)", $"{gatewayA}/bench/noassert/page", cookie),
            };
            foreach (var t in targets) await WrkAsync(t.Url, t.Cookie, 2, connections); // warm-up: JIT, connection pools, caches

            var results = targets.ToDictionary(t => t.Name, _ => new List<WrkResult>());
            long redisCommands = 0, signedRequests = 0;
            for (var round = 0; round < rounds; round++)
            {
                foreach (var t in targets)
                {
                    var before = t.Cookie is null ? 0 : await RedisCommandCountAsync(redisPort);
                    var r = await WrkAsync(t.Url, t.Cookie, duration, connections);
                    if (t.Cookie is not null)
                    {
                        redisCommands += await RedisCommandCountAsync(redisPort) - before - 1; // minus our own INFO
                        signedRequests += r.Requests;
                    }
                    results[t.Name].Add(r);
                }
            }

            var report = new StringBuilder();
            report.AppendLine(CultureInfo.InvariantCulture, $"Gateway benchmark, {DateTime.UtcNow:u}, {Environment.ProcessorCount} cores, wrk -t1 -c{connections} -d{duration}s, {rounds} rounds alternating a-e; medians");
            report.AppendLine(CultureInfo.InvariantCulture, $"{"target",-46}{"req/s",10}{"p50 ms",9}{"p99 ms",9}");
            var median = results.ToDictionary(kv => kv.Key, kv => Median(kv.Value));
            foreach (var (name, m) in median) report.AppendLine(CultureInfo.InvariantCulture, $"{name,-46}{m.Rps,10:0}{m.P50,9:0.00}{m.P99,9:0.00}");
            double Rps(string prefix) => median.First(kv => kv.Key.StartsWith(prefix, StringComparison.Ordinal)).Value.Rps;
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

    private static string StartGateway(string dll, string work, int redisPort)
    {
        var port = FreePort();
        var env = new Dictionary<string, string>
        {
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
            ["Logging__LogLevel__Default"] = "Warning",
            ["Gateway__ProxyConfigPath"] = Path.Combine(work, "proxy.json"),
            ["Gateway__Redis__Configuration"] = $"127.0.0.1:{redisPort}",
            ["Gateway__Login__AllowDevUsers"] = "true",
            ["Gateway__Login__AttemptsPerMinute"] = "100000",
            ["Gateway__Login__DevUsers__0__Name"] = "bench",
            ["Gateway__Login__DevUsers__0__Password"] = "bench-password",
            ["Gateway__Login__DevUsers__0__Email"] = "bench@example.test",
            ["Gateway__Login__DevUsers__0__Roles__0"] = "editor",
        };
        Start("dotnet", [dll, "--urls", $"http://127.0.0.1:{port}"], env, work);
        return $"http://127.0.0.1:{port}";
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

    private sealed record WrkResult(double Rps, double P50, double P99, long Requests);

    private static async Task<WrkResult> WrkAsync(string url, string? cookie, int seconds, int connections)
    {
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
        if (non2xx.Success) throw new InvalidOperationException($"{url}: {non2xx.Groups[1].Value} non-2xx responses:\n{output}");
        return new WrkResult(double.Parse(Regex.Match(output, @"Requests/sec:\s+([\d.]+)").Groups[1].Value, CultureInfo.InvariantCulture),
            Latency("50"), Latency("99"), long.Parse(Regex.Match(output, @"(\d+) requests in").Groups[1].Value, CultureInfo.InvariantCulture));
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

    private static void Start(string file, IEnumerable<string> args, IDictionary<string, string>? env = null, string? cwd = null)
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

    private static string FindRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Gateway.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("run from inside the repository");
    }
}
