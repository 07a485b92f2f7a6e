using Gateway.Sessions;

namespace Gateway.Tests.Sessions;

/// <summary>Idle (sliding) and absolute limits are enforced from the stored record, and sliding writes are throttled.</summary>
public sealed class SessionLifetimeTests(SharedRedis redis)
{
    [Fact]
    public async Task Idle_session_expires_after_the_idle_timeout_and_activity_slides_it()
    {
        var clock = new FakeClock();
        TouchCountingStore? store = null;
        await using var gateway = await GatewayHost.StartAsync(new GatewayConfig(), clock, services: s =>
            s.AddSingleton<ISessionStore>(sp => store = new TouchCountingStore(ActivatorUtilities.CreateInstance<InMemorySessionStore>(sp))));
        gateway.Services.GetRequiredService<ISessionStore>();
        using var browser = await gateway.SignedInBrowserAsync("alice", "alice-password");

        // Active every 15 minutes for an hour: the 20-minute idle window keeps sliding.
        for (var i = 0; i < 4; i++)
        {
            clock.Advance(TimeSpan.FromMinutes(15));
            var touches = store!.Touches;
            // Signed in: proxied (the test upstream is closed, so 502), not challenged.
            Assert.Equal(HttpStatusCode.BadGateway, (await browser.ApiGetAsync("/admin/x")).StatusCode);
            // The slide is written in the background: the clock moves on only once it has landed, as it would in real time.
            Assert.NotNull(await Poll.Until(() => Task.FromResult(store.Touches > touches ? (object?)true : null)));
        }
        clock.Advance(TimeSpan.FromMinutes(21));
        Assert.Equal(HttpStatusCode.Unauthorized, (await browser.ApiGetAsync("/admin/x")).StatusCode);
    }

    [Fact]
    public async Task Session_ends_at_the_absolute_lifetime_even_when_active()
    {
        var clock = new FakeClock();
        await using var rig = await CmsRig.StartAsync(redis.Configuration, c => c.Set("Gateway:Session:AbsoluteLifetime", "01:00:00"), clock);
        using var browser = await rig.Gateway.SignedInBrowserAsync("alice", "alice-password");
        for (var i = 0; i < 5; i++)
        {
            clock.Advance(TimeSpan.FromMinutes(11));
            Assert.Equal(HttpStatusCode.OK, (await browser.ApiGetAsync("/api/whoami")).StatusCode);
        }
        clock.Advance(TimeSpan.FromMinutes(6));
        Assert.Equal(HttpStatusCode.Unauthorized, (await browser.ApiGetAsync("/api/whoami")).StatusCode);
    }

    [Fact]
    public async Task Redis_ttl_is_the_idle_timeout_and_steady_requests_send_no_redis_commands()
    {
        await using var own = await RedisServer.StartAsync();
        await using var rig = await CmsRig.StartAsync(own.Configuration);
        using var browser = await rig.Gateway.SignedInBrowserAsync("alice", "alice-password");
        Assert.Equal(HttpStatusCode.OK, (await browser.ApiGetAsync("/api/whoami")).StatusCode);

        using var mux = await own.ConnectAsync();
        var server = mux.GetServer(own.Configuration);
        var key = Assert.Single(server.Keys(pattern: rig.KeyPrefix + "{u:*}:s:*"));
        var ttl = await mux.GetDatabase().KeyTimeToLiveAsync(key);
        Assert.InRange(ttl!.Value, TimeSpan.FromMinutes(19.5), TimeSpan.FromMinutes(20));

        await server.ConfigResetStatisticsAsync();
        for (var i = 0; i < 50; i++) Assert.Equal(HttpStatusCode.OK, (await browser.ApiGetAsync("/api/whoami")).StatusCode);
        var stats = (await server.InfoAsync("commandstats")).SelectMany(g => g).Select(kv => kv.Key).ToList();
        // Only our own INFO/CONFIG calls; no GET, PEXPIRE, EVAL or PUBLISH from the 50 requests.
        Assert.DoesNotContain(stats, s => s is "cmdstat_get" or "cmdstat_pexpire" or "cmdstat_eval" or "cmdstat_evalsha" or "cmdstat_set");
    }
}
