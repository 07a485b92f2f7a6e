using System.Diagnostics;

namespace Gateway.Tests.Sessions;

/// <summary>Two gateway processes on one Redis: any replica serves any user, and a revocation on one reaches the other at once.</summary>
public sealed class ReplicaTests(SharedRedis redis, ITestOutputHelper output)
{
    private static GatewayConfig ReplicaConfig(string redisConfiguration, string prefix, string upstream) =>
        new GatewayConfig { UpstreamUrl = upstream }.WithRedis(redisConfiguration, prefix);

    [Fact]
    public async Task Logout_on_replica_A_is_refused_by_replica_B_which_had_the_session_cached()
    {
        var prefix = $"rep{Guid.NewGuid():N}"[..10] + ":";
        var portA = Tools.FreePort();
        await using var cms = await CmsRig.StartCmsAsync(redis.Configuration, $"http://127.0.0.1:{portA}");
        await using var a = await GatewayProcess.StartAsync(ReplicaConfig(redis.Configuration, prefix, cms.BaseUrl + "/"), portA);
        await using var b = await GatewayProcess.StartAsync(ReplicaConfig(redis.Configuration, prefix, cms.BaseUrl + "/"));

        using var onA = a.Browser();
        Assert.Equal(HttpStatusCode.SeeOther, (await onA.LoginAsync("alice", "alice-password")).StatusCode);
        var cookie = onA.Cookie("gw_session")!;
        using var onB = b.Browser();
        onB.SetCookie("gw_session", cookie);
        // B reads A's cookie (shared DataProtection keys) and caches the session.
        for (var i = 0; i < 5; i++) Assert.Equal(HttpStatusCode.OK, (await onB.ApiGetAsync("/api/whoami")).StatusCode);

        var logout = await onA.NavigateAsync("/logout", site: "same-origin");
        Assert.Equal(HttpStatusCode.Found, logout.StatusCode);
        var watch = Stopwatch.StartNew();
        HttpStatusCode status;
        do status = (await onB.ApiGetAsync("/api/whoami")).StatusCode;
        while (status == HttpStatusCode.OK && watch.ElapsedMilliseconds < 10_000);
        output.WriteLine($"replica B refused the revoked session {watch.Elapsed.TotalMilliseconds:0.0} ms after logout on A returned");
        Assert.Equal(HttpStatusCode.Unauthorized, status);

        // The captured cookie replayed to either replica is anonymous.
        using var replay = a.Browser();
        replay.SetCookie("gw_session", cookie);
        Assert.Equal(HttpStatusCode.Unauthorized, (await replay.ApiGetAsync("/api/whoami")).StatusCode);
    }

    [Fact]
    public async Task A_replica_that_loses_its_subscription_stops_trusting_its_cache()
    {
        await using var own = await RedisServer.StartAsync(persistent: true);
        var prefix = "sub:";
        await using var cms = await CmsRig.StartCmsAsync(own.Configuration, "http://127.0.0.1:9");
        await using var b = await GatewayProcess.StartAsync(ReplicaConfig(own.Configuration, prefix, cms.BaseUrl + "/"));
        using var browser = await b.SignedInBrowserAsync("alice", "alice-password");
        Assert.Equal(HttpStatusCode.OK, (await browser.ApiGetAsync("/api/whoami")).StatusCode);

        await own.StopAsync();
        // The session is in B's cache, but with the revocation feed gone B must ask Redis, which is down.
        // B learns of the loss when the socket closes; from then on nothing is served from the cache.
        var watch = Stopwatch.StartNew();
        var down = await Poll.Until(async () =>
        {
            var response = await browser.ApiGetAsync("/api/whoami");
            return response.StatusCode == HttpStatusCode.ServiceUnavailable ? response : null;
        }, 10_000);
        Assert.NotNull(down);
        output.WriteLine($"replica distrusted its cache {watch.Elapsed.TotalMilliseconds:0.0} ms after redis-server was killed");
        for (var i = 0; i < 10; i++) Assert.Equal(HttpStatusCode.ServiceUnavailable, (await browser.ApiGetAsync("/api/whoami")).StatusCode);
        Assert.Equal("5", down.Headers.RetryAfter!.ToString());
        Assert.Equal(HttpStatusCode.OK, (await browser.NavigateAsync("/")).StatusCode);

        await own.StartAgainAsync();
        var back = await Poll.Until(async () =>
            (await browser.ApiGetAsync("/api/whoami")).StatusCode is var s && s == HttpStatusCode.OK ? (HttpStatusCode?)s : null, 15_000);
        Assert.Equal(HttpStatusCode.OK, back);
        Assert.Contains("Session cache distrusted, every request reads the store: revocation subscription lost", b.Output);
    }
}
