using System.Diagnostics;
using StackExchange.Redis;

namespace Gateway.Tests.Redis;

/// <summary>
/// Redis as it is deployed: an ACL user rather than the default one, Sentinel master discovery, and a
/// restart under load, all against real redis-server processes.
/// </summary>
public sealed class RedisDeploymentTests(ITestOutputHelper output)
{
    [Fact]
    public async Task The_gateway_signs_in_as_a_redis_acl_user_limited_to_its_own_keys()
    {
        await using var redis = await RedisServer.StartAsync();
        await using (var admin = await redis.ConnectAsync())
        {
            var db = admin.GetDatabase();
            // README's rule, on this test's prefix.
            await db.ExecuteAsync("ACL", RedisAclTests.ReadmeAcl().Select(rule => rule switch
            {
                "~gw:*" => "~gwacl:*",
                "&gw:*" => "&gwacl:*",
                "~DataProtection-Keys" => "~gwacl:DataProtection-Keys",
                _ => rule,
            }).Cast<object>().ToArray());
        }
        var config = new GatewayConfig().WithRedis($"{redis.Configuration},user=gateway,password=gateway-acl-password", "gwacl:")
            .Set("Gateway:Redis:DataProtectionKey", "gwacl:DataProtection-Keys");
        await using var gateway = await GatewayHost.StartAsync(config);
        using var browser = gateway.Browser();
        Assert.Equal(HttpStatusCode.SeeOther, (await browser.LoginAsync("alice", "alice-password")).StatusCode);

        await using var check = await redis.ConnectAsync();
        var server = check.GetServer(check.GetEndPoints()[0]);
        var clients = await server.ClientListAsync();
        Assert.Contains(clients, c => c.Name == "gateway" && c.Raw?.Contains("user=gateway", StringComparison.Ordinal) == true);
        Assert.DoesNotContain(clients, c => c.Name == "gateway" && c.Raw?.Contains("user=default", StringComparison.Ordinal) == true);
        Assert.True(await check.GetDatabase().ListLengthAsync("gwacl:DataProtection-Keys") > 0);
    }

    [Fact]
    public async Task A_redis_user_that_may_not_count_replicas_fails_logins_closed_and_the_log_says_what_to_grant()
    {
        await using var redis = await RedisServer.StartAsync();
        await using (var admin = await redis.ConnectAsync())
            await admin.GetDatabase().ExecuteAsync("ACL", "SETUSER", "gateway", "on", ">gateway-acl-password", "~gwrole:*", "~DataProtection-Keys", "&gwrole:*", "+@all", "-@dangerous");
        var config = new GatewayConfig().WithRedis($"{redis.Configuration},user=gateway,password=gateway-acl-password", "gwrole:");
        await using var gateway = await GatewayHost.StartAsync(config);
        using var browser = gateway.Browser();

        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await browser.LoginAsync("alice", "alice-password")).StatusCode);
        Assert.Null(browser.Cookie("gw_session"));
        var logged = Assert.Single(gateway.Logs.Lines, l => l.Event.Name == "RedisWaitNotPermitted");
        Assert.Contains("Grant +role +wait", logged.Message);
    }

    [Fact]
    public async Task A_wrong_acl_password_fails_closed_with_503_on_login_and_public_routes_stay_up()
    {
        await using var redis = await RedisServer.StartAsync();
        await using (var admin = await redis.ConnectAsync())
        {
            // No anonymous fallback: with the default user on, a failed AUTH would still leave a usable connection.
            await admin.GetDatabase().ExecuteAsync("ACL", "SETUSER", "gateway", "on", ">gateway-acl-password", "~*", "&*", "+@all");
            await admin.GetDatabase().ExecuteAsync("ACL", "SETUSER", "default", "off");
        }
        // The CMS keeps its sessions in memory here: only the gateway's Redis access is under test.
        await using var cms = await NodeApp.StartAsync("cms.mjs", "CMS_LISTENING", new Dictionary<string, string?> { ["SESSION_SECRET"] = GatewayConfig.CmsSecret });
        var config = new GatewayConfig { UpstreamUrl = cms.BaseUrl + "/" }.WithRedis($"{redis.Configuration},user=gateway,password=not-the-password");
        await using var gateway = await GatewayHost.StartAsync(config, awaitKeyRing: false);
        using var browser = gateway.Browser();
        var login = await browser.NavigateAsync("/login");
        Assert.True(login.StatusCode == HttpStatusCode.ServiceUnavailable, $"{login.StatusCode}: {await login.Content.ReadAsStringAsync()}\n{gateway.Logs.All}");
        Assert.Equal(HttpStatusCode.OK, (await browser.NavigateAsync("/")).StatusCode);
    }

    [Fact]
    public async Task The_gateway_finds_the_master_through_sentinel()
    {
        await using var master = await RedisServer.StartAsync();
        var sentinelPort = Tools.FreePort();
        var dir = Tools.NewTempDir("sentinel");
        var conf = Path.Combine(dir, "sentinel.conf");
        await File.WriteAllTextAsync(conf, $"port {sentinelPort}\nbind 127.0.0.1\nsentinel monitor gwmaster 127.0.0.1 {master.Port} 1\n");
        await using var sentinel = new ServerProcess(Tools.Require("redis-server", "apt-get install -y redis-server"), [conf, "--sentinel"],
            readyMarker: "+monitor master gwmaster");
        await sentinel.WaitReadyAsync(TimeSpan.FromSeconds(15));
        try
        {
            var config = new GatewayConfig().WithRedis($"127.0.0.1:{sentinelPort},serviceName=gwmaster", "gwsent:");
            await using var gateway = await GatewayHost.StartAsync(config);
            using var browser = gateway.Browser();
            Assert.Equal(HttpStatusCode.SeeOther, (await browser.LoginAsync("alice", "alice-password")).StatusCode);

            // The session landed on the master the sentinel named.
            await using var direct = await master.ConnectAsync();
            var keys = direct.GetServer(direct.GetEndPoints()[0]).Keys(pattern: "gwsent:*").Select(k => (string)k!).ToList();
            Assert.Contains(keys, k => k.Contains(":s:", StringComparison.Ordinal));
        }
        finally
        {
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
        }
    }

    [Fact]
    public async Task A_redis_restart_under_load_is_served_again_soon_after_redis_answers()
    {
        await using var redis = await RedisServer.StartAsync(persistent: true);
        await using var rig = await CmsRig.StartAsync(redis.Configuration);
        using var browser = await rig.Gateway.SignedInBrowserAsync("alice", "alice-password");
        Assert.Equal(HttpStatusCode.OK, (await browser.ApiGetAsync("/api/whoami")).StatusCode);

        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var lastFailure = 0L;
        var firstOkAfterRestart = 0L;
        var restartedAt = 0L;
        var clock = Stopwatch.StartNew();
        // Eight callers hammer a protected route the whole time, so the breaker and the cache see real load.
        var load = Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
        {
            using var client = rig.Gateway.Browser();
            client.SetCookie("gw_session", browser.Cookie("gw_session")!);
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    // A failure counts from when its request was sent: one sent during the outage may answer late.
                    var sent = clock.ElapsedMilliseconds;
                    var status = (await client.ApiGetAsync("/api/whoami")).StatusCode;
                    var now = clock.ElapsedMilliseconds;
                    if (status != HttpStatusCode.OK) Interlocked.Exchange(ref lastFailure, Math.Max(sent, 1));
                    else if (Interlocked.Read(ref restartedAt) > 0 && now > Interlocked.Read(ref restartedAt)) Interlocked.CompareExchange(ref firstOkAfterRestart, now, 0);
                }
                catch (HttpRequestException) { }
            }
        })).ToList();

        await Task.Delay(500);
        await redis.StopAsync();
        var seen = await Poll.Until(() => Task.FromResult(Interlocked.Read(ref lastFailure) > 0 ? (bool?)true : null), 15_000);
        Assert.True(seen, "the outage was not seen by the load");
        await redis.StartAgainAsync();
        Interlocked.Exchange(ref restartedAt, clock.ElapsedMilliseconds);
        var recovered = await Poll.Until(() =>
            Task.FromResult(Interlocked.Read(ref firstOkAfterRestart) > 0 ? (bool?)true : null), 15_000);
        await Task.Delay(1000);
        stop.Cancel();
        await Task.WhenAll(load);

        Assert.True(recovered, rig.Gateway.Logs.All[^Math.Min(3000, rig.Gateway.Logs.All.Length)..]);
        output.WriteLine($"first 200 {firstOkAfterRestart - restartedAt} ms after redis-server answered; last non-200 at +{lastFailure - restartedAt} ms");
        // Once served again, it stays served: no request sent a second after the first success fails.
        Assert.True(lastFailure < firstOkAfterRestart + 1000, $"failures went on until +{lastFailure - restartedAt} ms");
    }
}
