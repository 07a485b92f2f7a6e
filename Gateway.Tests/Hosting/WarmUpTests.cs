using Gateway.Sessions;
using Gateway.WarmUp;

namespace Gateway.Tests.Hosting;

/// <summary>
/// The warm-up before readiness: it holds /readyz back, sends nothing upstream, leaves no session or route behind,
/// and gives a client nothing: its paths are random, its sink answers only to the process, and a forged identity
/// header is stripped and reported on every path, the warm-up's own included.
/// </summary>
[Collection(nameof(WarmUpTests))]
public sealed class WarmUpTests(SharedRedis redis)
{
    private static GatewayConfig WithWarmUp(string upstream) =>
        new GatewayConfig { UpstreamUrl = upstream + "/" }.Set("Gateway:WarmUp:Enabled", "true").Set("Gateway:WarmUp:MaxDuration", "00:00:30");

    private static async Task<JsonElement> ReadyAsync(HttpClient http, HttpStatusCode expected)
    {
        var response = await http.GetAsync("/readyz");
        Assert.Equal(expected, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    private static async Task WaitReadyAsync(HttpClient http)
    {
        var ready = await Poll.Until<string>(async () => (await http.GetAsync("/readyz")).StatusCode == HttpStatusCode.OK ? "ready" : null, 40_000);
        Assert.Equal("ready", ready);
    }

    private static long StoreReads(string finishedMessage) => long.Parse(finishedMessage.Split(" store reads")[0].Split(' ')[^1]);

    [Fact]
    public async Task A_replica_is_ready_only_after_its_warm_up_and_no_warm_up_request_reaches_the_upstream()
    {
        await using var upstream = await RecordingUpstream.StartAsync();
        await using var gateway = await GatewayHost.StartAsync(WithWarmUp(upstream.BaseUrl));
        using var http = new HttpClient { BaseAddress = new Uri(gateway.BaseUrl) };

        var during = await ReadyAsync(http, HttpStatusCode.ServiceUnavailable);
        Assert.False(during.GetProperty("warmUp").GetProperty("over").GetBoolean());
        Assert.True(during.GetProperty("keyRing").GetProperty("usable").GetBoolean());
        await WaitReadyAsync(http);
        var after = await ReadyAsync(http, HttpStatusCode.OK);
        Assert.True(after.GetProperty("warmUp").GetProperty("over").GetBoolean());

        var finished = Assert.Single(gateway.Logs.Lines, l => l.Event.Name == "WarmUpFinished");
        Assert.Contains("(0 failed)", finished.Message);
        Assert.Contains("JIT settled: True", finished.Message);
        var requests = long.Parse(finished.Message.Split("ms: ")[1].Split(' ')[0]);
        Assert.True(requests > 100, finished.Message);
        // The store's read path (every user's first request to a new replica) ran too, for a session that exists nowhere.
        Assert.True(StoreReads(finished.Message) > 30, finished.Message);
        // The endpoint table was rebuilt without the warm-up's routes before ready, not under the first users' requests.
        Assert.Single(gateway.Logs.Lines, l => l.Event.Name == "WarmUpRoutesRemoved");
        Assert.DoesNotContain(gateway.Logs.Lines, l => l.Event.Name == "WarmUpRoutesStillListed");
        Assert.Empty(upstream.Seen);
        // Its signed-in session is gone and it left no trace of forged headers or challenges in the logs.
        Assert.Equal(0, gateway.Services.GetRequiredService<SessionCache>().Count);
        Assert.DoesNotContain(gateway.Logs.Lines, l => l.Event.Name is "IdentityHeadersStripped" or "WarmUpSkipped");
        Assert.DoesNotContain(gateway.Logs.Lines, l => l.Message.Contains("challenged", StringComparison.Ordinal));
    }

    [Fact]
    public async Task After_the_warm_up_its_routes_are_gone_and_its_sink_answers_404()
    {
        await using var upstream = await RecordingUpstream.StartAsync();
        await using var gateway = await GatewayHost.StartAsync(WithWarmUp(upstream.BaseUrl));
        using var http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = new Uri(gateway.BaseUrl) };
        await WaitReadyAsync(http);
        var state = gateway.Services.GetRequiredService<WarmUpState>();

        // The signed-in warm-up route no longer exists: the path is an ordinary public one, proxied without identity.
        var signed = await http.GetAsync(state.Root + "/signed/page");
        Assert.Equal(HttpStatusCode.OK, signed.StatusCode);
        Assert.Equal("upstream", await signed.Content.ReadAsStringAsync());
        var seen = Assert.Single(upstream.Seen);
        Assert.Equal(state.Root + "/signed/page", seen.Path);
        Assert.False(seen.Headers.ContainsKey("X-Auth-User"));
        Assert.False(seen.Headers.ContainsKey("X-Auth-Assertion"));

        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync(state.SinkPath + "/page")).StatusCode);
    }

    [Fact]
    public async Task A_client_during_the_warm_up_reaches_none_of_it_and_its_forged_headers_are_stripped_and_reported()
    {
        await using var upstream = await RecordingUpstream.StartAsync();
        await using var gateway = await GatewayHost.StartAsync(WithWarmUp(upstream.BaseUrl));
        using var http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = new Uri(gateway.BaseUrl) };
        var state = gateway.Services.GetRequiredService<WarmUpState>();
        Assert.False(state.IsOver);

        // Even knowing the real root, a client has no warm-up cookie: the signed-in warm-up route refuses it.
        var signed = await http.GetAsync(state.Root + "/signed/page");
        Assert.Equal(HttpStatusCode.Unauthorized, signed.StatusCode);
        Assert.Empty(upstream.Seen);

        // A guessed root is just a path of the CMS: proxied as public, forged identity removed and reported.
        using var guessed = new HttpRequestMessage(HttpMethod.Get, "/_gateway/warm-up/00000000000000000000000000000000/sink/page");
        guessed.Headers.Add("X-Auth-User", "admin");
        guessed.Headers.Add("X-Auth-Roles", "admin");
        Assert.Equal(HttpStatusCode.OK, (await http.SendAsync(guessed)).StatusCode);
        var seen = Assert.Single(upstream.Seen);
        Assert.False(seen.Headers.ContainsKey("X-Auth-User"));
        Assert.False(seen.Headers.ContainsKey("X-Auth-Roles"));
        Assert.Contains(gateway.Logs.Lines, l => l.Event.Name == "IdentityHeadersStripped");


        await WaitReadyAsync(http);
        // Once over, forged headers on the sink's own path are reported like anywhere else.
        var before = gateway.Logs.Lines.Count(l => l.Event.Name == "IdentityHeadersStripped");
        using var late = new HttpRequestMessage(HttpMethod.Get, state.SinkPath + "/page");
        late.Headers.Add("X-Auth-User", "admin");
        Assert.Equal(HttpStatusCode.NotFound, (await http.SendAsync(late)).StatusCode);
        Assert.Equal(before + 1, gateway.Logs.Lines.Count(l => l.Event.Name == "IdentityHeadersStripped"));
    }

    [Fact]
    public async Task With_redis_a_short_touch_interval_and_restricted_hosts_the_warm_up_completes_and_leaves_nothing_in_redis()
    {
        await using var upstream = await RecordingUpstream.StartAsync();
        var config = WithWarmUp(upstream.BaseUrl).WithRedis(redis.Configuration)
            .Set("Gateway:Session:TouchInterval", "00:00:00.5")
            .Set("AllowedHosts", "*.gateway.example.test;gateway.example.test");
        await using var gateway = await GatewayHost.StartAsync(config);
        using var http = new HttpClient { BaseAddress = new Uri(gateway.BaseUrl) };
        http.DefaultRequestHeaders.Host = "gateway.example.test";
        await WaitReadyAsync(http);

        var finished = Assert.Single(gateway.Logs.Lines, l => l.Event.Name == "WarmUpFinished");
        Assert.Contains("(0 failed)", finished.Message);
        Assert.True(StoreReads(finished.Message) > 30, finished.Message);
        Assert.DoesNotContain(gateway.Logs.Lines, l => l.Event.Name == "WarmUpSkipped");
        Assert.Empty(upstream.Seen);
        // The warm-up's session was never written, touched or indexed in the shared store, and its reads wrote nothing.
        var prefix = config.Settings["Gateway:Redis:KeyPrefix"]!;
        await using var mux = await redis.Server.ConnectAsync();
        var keys = mux.GetServer(mux.GetEndPoints()[0]).Keys(pattern: prefix + "*").Select(k => (string)k!).ToList();
        Assert.NotEmpty(keys);
        var tag = SessionKey.TagFor(WarmUpUser.Id);
        Assert.DoesNotContain(keys, k => k.Contains(tag, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_redis_outage_during_the_warm_up_ends_it_and_the_replica_still_turns_ready_having_sent_nothing_upstream()
    {
        await using var upstream = await RecordingUpstream.StartAsync();
        await using var own = await RedisServer.StartAsync();
        await using var gateway = await GatewayHost.StartAsync(WithWarmUp(upstream.BaseUrl).WithRedis(own.Configuration));
        using var http = new HttpClient { BaseAddress = new Uri(gateway.BaseUrl) };
        var state = gateway.Services.GetRequiredService<WarmUpState>();

        // Redis goes while the warm-up runs: its store reads fail, the revocation feed drops, the cache is distrusted.
        Assert.Equal("running", await Poll.Until<string>(() => Task.FromResult(state.Running ? "running" : null), 30_000));
        await own.StopAsync();

        await WaitReadyAsync(http);
        Assert.True(state.IsOver);
        Assert.Contains(gateway.Logs.Lines, l => l.Event.Name is "WarmUpFinished" or "WarmUpSkipped");
        Assert.Empty(upstream.Seen);
        Assert.Equal(0, gateway.Services.GetRequiredService<SessionCache>().Count);
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync(state.SinkPath + "/page")).StatusCode);
    }

    [Fact]
    public async Task A_warm_up_answered_by_anything_but_its_sink_stops_after_its_first_answers_and_never_sends_the_cookie_first()
    {
        // Stands in for a misrouted warm-up: an upstream answering 200 to everything, without the sink's nonce.
        await using var upstream = await RecordingUpstream.StartAsync();
        var routes = new WarmUpRoutes(new WarmUpState());
        using var load = new WarmUpLoad(new Uri(upstream.BaseUrl), null, routes, "gw_session=warm-up-cookie", "nonce");

        var probe = await Assert.ThrowsAsync<InvalidOperationException>(() => load.ProbeAsync(CancellationToken.None));
        Assert.Contains("without the sink's nonce", probe.Message);
        var first = Assert.Single(upstream.Seen);
        Assert.False(first.Headers.ContainsKey("Cookie"));

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var run = await Assert.ThrowsAsync<InvalidOperationException>(() => load.RunUntilAsync(() => false, timeout.Token));
        Assert.Contains("without the sink's nonce", run.Message);
        // Each loop stops at its first foreign answer: at most one request per loop got through.
        Assert.InRange(upstream.Seen.Count, 2, 1 + 8);
    }

    [Theory]
    [InlineData(null, null)]
    [InlineData("*", null)]
    [InlineData("gateway.example.test;*", null)]
    [InlineData("gateway.example.test", "gateway.example.test")]
    [InlineData("*.example.test;cms.example.test", "warm-up.example.test")]
    public void The_warm_up_sends_a_host_that_host_filtering_allows(string? allowedHosts, string? expected) =>
        Assert.Equal(expected, WarmUpService.HostFor(allowedHosts));

    [Fact]
    public async Task With_the_warm_up_off_a_replica_is_ready_at_once()
    {
        await using var gateway = await GatewayHost.StartAsync(new GatewayConfig());
        using var http = new HttpClient { BaseAddress = new Uri(gateway.BaseUrl) };
        var ready = await ReadyAsync(http, HttpStatusCode.OK);
        Assert.True(ready.GetProperty("warmUp").GetProperty("over").GetBoolean());
        Assert.DoesNotContain(gateway.Logs.Lines, l => l.Event.Name is "WarmUpFinished" or "WarmUpSkipped");
    }

    [Theory]
    [InlineData("http://127.0.0.1:8080", "http://127.0.0.1:8080/")]
    [InlineData("http://0.0.0.0:8080", "http://127.0.0.1:8080/")]
    [InlineData("http://[::]:8080", "http://127.0.0.1:8080/")]
    [InlineData("http://+:8080", "http://127.0.0.1:8080/")]
    [InlineData("http://*:8080", "http://127.0.0.1:8080/")]
    [InlineData("http://localhost:5000", "http://127.0.0.1:5000/")]
    [InlineData("http://10.1.2.3:8080", "http://10.1.2.3:8080/")]
    [InlineData("http://[::1]:8080", "http://[::1]:8080/")]
    [InlineData("https://0.0.0.0:8443", null)]
    [InlineData("http://unix:/run/gateway.sock", null)]
    public void The_warm_up_reaches_its_own_replica_on_the_first_plain_http_listener(string address, string? expected) =>
        Assert.Equal(expected, WarmUpService.LoopbackAddress([address])?.ToString());

    [Fact]
    public void An_https_listener_is_passed_over_for_a_plain_one() =>
        Assert.Equal("http://127.0.0.1:8080/", WarmUpService.LoopbackAddress(["https://0.0.0.0:8443", "http://[::]:8080"])?.ToString());
}

/// <summary>
/// A warm-up is seconds of full load on every core: run alone, after the parallel tests, so it never skews their
/// timing bounds (Redis script times, revocation latency).
/// </summary>
[CollectionDefinition(nameof(WarmUpTests), DisableParallelization = true)]
public sealed class WarmUpTestsRunAlone;
