using Gateway.Redis;
using Gateway.Sessions;
using StackExchange.Redis;

namespace Gateway.Tests.Sessions;

/// <summary>
/// The sliding expiry is written off the request path (SessionTouches): a cache miss costs one read, the write goes
/// out in the background at most once per TouchInterval, and nothing of what it guarded is lost: an idle session
/// expires, an ended one is not served. On the real Redis store, behind a decorator that can hold the writes.
/// </summary>
public sealed class SlidingExpiryTests(SharedRedis redis)
{
    /// <param name="cacheMaxEntries">0: nothing is cached, so every request fetches its session anew (no entry is kept
    /// for a read to revalidate).</param>
    private async Task<(GatewayHost Gateway, TouchCountingStore Store, RecordingUpstream Upstream)> StartAsync(FakeClock clock, string prefix,
        string cacheDuration = "00:00:00", int? cacheMaxEntries = null)
    {
        TouchCountingStore? store = null;
        var upstream = await RecordingUpstream.StartAsync();
        var config = new GatewayConfig { UpstreamUrl = upstream.BaseUrl + "/" }.WithRedis(redis.Configuration, prefix)
            // No cache (every request reads the store) unless a test wants one.
            .Set("Gateway:Session:CacheDuration", cacheDuration);
        if (cacheMaxEntries is { } entries) config.Set("Gateway:Session:CacheMaxEntries", entries.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var gateway = await GatewayHost.StartAsync(config, clock, services: s =>
            s.AddSingleton<ISessionStore>(sp => store = new TouchCountingStore(ActivatorUtilities.CreateInstance<RedisSessionStore>(sp))));
        gateway.Services.GetRequiredService<ISessionStore>();
        return (gateway, store!, upstream);
    }

    private async Task<TimeSpan> RecordTtlAsync(string prefix)
    {
        await using var direct = await ConnectionMultiplexer.ConnectAsync(redis.Configuration);
        var key = direct.GetServer(direct.GetEndPoints()[0]).Keys(pattern: prefix + "*:s:*").Single();
        return (await direct.GetDatabase().KeyTimeToLiveAsync(key))!.Value;
    }

    [Fact]
    public async Task A_cache_miss_is_served_without_waiting_for_the_sliding_expiry_write_which_lands_after()
    {
        var clock = new FakeClock();
        var (gateway, store, upstream) = await StartAsync(clock, "gwslide1:");
        await using var _ = gateway;
        await using var __ = upstream;
        using var browser = await gateway.SignedInBrowserAsync("alice", "alice-password");
        clock.Advance(TimeSpan.FromMinutes(5));
        // Redis's own clock does not follow the fake one: the record is brought near its idle expiry by hand.
        await using (var direct = await ConnectionMultiplexer.ConnectAsync(redis.Configuration))
            await direct.GetDatabase().KeyExpireAsync(direct.GetServer(direct.GetEndPoints()[0]).Keys(pattern: "gwslide1:*:s:*").Single(), TimeSpan.FromMinutes(1));
        var hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        store.Hold = hold;

        // Served while its sliding-expiry write is still held back.
        Assert.Equal(HttpStatusCode.OK, (await browser.ApiGetAsync("/api/whoami")).StatusCode);
        Assert.Equal(0, store.Touches);

        hold.SetResult();
        await Poll.Until(() => Task.FromResult<object?>(store.Touches == 1 ? true : null));
        Assert.Equal(1, store.Touches);
        // The write slid the record's expiry back to the full idle timeout (20 minutes).
        Assert.InRange(await RecordTtlAsync("gwslide1:"), TimeSpan.FromMinutes(19), TimeSpan.FromMinutes(20));
    }

    /// <summary>
    /// <paramref name="count"/> sessions of one user, signed in five minutes ago, their records brought within a minute of
    /// their idle expiry by hand; each is read once (every read is served): the first while the store's slide calls are
    /// held, so its slide goes out alone and waits there, and the others after that, so theirs queue behind it.
    /// </summary>
    private async Task<HeldSlides> ReadBehindAHeldSlideAsync(GatewayHost gateway, TouchCountingStore store, FakeClock clock, string prefix, int count)
    {
        var held = new HeldSlides(await ConnectionMultiplexer.ConnectAsync(redis.Configuration));
        for (var i = 0; i < count; i++) held.Browsers.Add(await gateway.SignedInBrowserAsync("alice", "alice-password"));
        clock.Advance(TimeSpan.FromMinutes(5));
        held.Records.AddRange(held.Redis.GetServer(held.Redis.GetEndPoints()[0]).Keys(pattern: prefix + "*:s:*"));
        Assert.Equal(count, held.Records.Count);
        foreach (var record in held.Records) await held.Redis.GetDatabase().KeyExpireAsync(record, TimeSpan.FromMinutes(1));
        store.Hold = held.Hold;
        Assert.Equal(HttpStatusCode.OK, (await held.Browsers[0].ApiGetAsync("/api/whoami")).StatusCode);
        await Poll.Until(() => Task.FromResult<object?>(store.CallSizes.Count == 1 ? true : null));
        foreach (var browser in held.Browsers.Skip(1)) Assert.Equal(HttpStatusCode.OK, (await browser.ApiGetAsync("/api/whoami")).StatusCode);
        return held;
    }

    private sealed class HeldSlides(ConnectionMultiplexer redis) : IAsyncDisposable
    {
        public ConnectionMultiplexer Redis { get; } = redis;
        public List<Browser> Browsers { get; } = [];
        public List<RedisKey> Records { get; } = [];
        public TaskCompletionSource Hold { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>Each record's time to live now.</summary>
        public async Task<TimeSpan[]> TtlsAsync() =>
            await Task.WhenAll(Records.Select(async r => (await Redis.GetDatabase().KeyTimeToLiveAsync(r))!.Value));

        public async ValueTask DisposeAsync()
        {
            foreach (var browser in Browsers) browser.Dispose();
            await Redis.DisposeAsync();
        }
    }

    [Fact]
    public async Task Slides_queued_while_a_write_is_out_go_to_the_store_together_in_one_call_and_each_lands()
    {
        var clock = new FakeClock();
        var (gateway, store, upstream) = await StartAsync(clock, "gwslide5:");
        await using var _ = gateway;
        await using var __ = upstream;
        await using var held = await ReadBehindAHeldSlideAsync(gateway, store, clock, "gwslide5:", count: 4);

        held.Hold.SetResult();

        await Poll.Until(() => Task.FromResult<object?>(store.Touches == 4 ? true : null));
        Assert.Equal([1, 3], store.CallSizes);
        Assert.All(await held.TtlsAsync(), ttl => Assert.InRange(ttl, TimeSpan.FromMinutes(19), TimeSpan.FromMinutes(20)));
    }

    [Fact]
    public async Task Every_slide_of_a_batch_the_store_fails_is_queued_again_by_its_sessions_next_request_and_lands_once_the_store_is_back()
    {
        var clock = new FakeClock();
        var (gateway, store, upstream) = await StartAsync(clock, "gwslide6:", cacheMaxEntries: 0);
        await using var _ = gateway;
        await using var __ = upstream;
        using var metrics = new MetricsRecorder(gateway.Services, "gateway.sessions.touches");
        // Both calls (one slide alone, then two together) fail, as in an outage; the requests were served all the same.
        store.Failure = new StoreUnavailableException("Redis session.touch failed: RedisTimeoutException");
        await using var held = await ReadBehindAHeldSlideAsync(gateway, store, clock, "gwslide6:", count: 3);

        held.Hold.SetResult();
        await Poll.Until(() => Task.FromResult<object?>(metrics.Sum("gateway.sessions.touches", "outcome=failed") == 3 ? true : null));
        Assert.Equal([1, 2], store.CallSizes);
        Assert.Equal(0, store.Touches);
        Assert.All(await held.TtlsAsync(), ttl => Assert.InRange(ttl, TimeSpan.Zero, TimeSpan.FromMinutes(1)));

        // Back, seconds later, well inside the touch interval: each session's next request queues its slide again (it was
        // not left marked as slid), and it lands.
        store.Failure = null;
        store.Hold = null;
        clock.Advance(TimeSpan.FromSeconds(5));
        foreach (var browser in held.Browsers) Assert.Equal(HttpStatusCode.OK, (await browser.ApiGetAsync("/api/whoami")).StatusCode);
        await Poll.Until(() => Task.FromResult<object?>(store.Touches == 3 ? true : null));
        Assert.All(await held.TtlsAsync(), ttl => Assert.InRange(ttl, TimeSpan.FromMinutes(19), TimeSpan.FromMinutes(20)));
        // Logged once for the outage (at most once in ten seconds), with the store's reason and nothing of a session.
        var failed = Assert.Single(gateway.Logs.Lines, l => l.Event.Name == "SessionTouchFailed");
        Assert.Contains("RedisTimeoutException", failed.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_slide_that_failed_in_a_batch_whose_other_slides_landed_is_queued_again_by_its_sessions_next_request()
    {
        var clock = new FakeClock();
        var (gateway, store, upstream) = await StartAsync(clock, "gwslide7:", cacheMaxEntries: 0);
        await using var _ = gateway;
        await using var __ = upstream;
        using var metrics = new MetricsRecorder(gateway.Services, "gateway.sessions.touches");
        await using var direct = await ConnectionMultiplexer.ConnectAsync(redis.Configuration);
        var db = direct.GetDatabase();
        RedisKey[] Records() => [.. direct.GetServer(direct.GetEndPoints()[0]).Keys(pattern: "gwslide7:*:s:*")];
        using var alice = await gateway.SignedInBrowserAsync("alice", "alice-password");
        var aliceRecord = Assert.Single(Records());
        using var admin = await gateway.SignedInBrowserAsync("admin", "admin-password");
        var adminRecord = Assert.Single(Records(), k => k != aliceRecord);
        clock.Advance(TimeSpan.FromMinutes(5));
        foreach (var record in new[] { aliceRecord, adminRecord }) await db.KeyExpireAsync(record, TimeSpan.FromMinutes(1));
        // Alice's index is not a sorted set any more: her slide's ZADD fails with WRONGTYPE while the rest lands, as when
        // one shard of a cluster fails.
        var aliceIndex = ((string)aliceRecord!)[..((string)aliceRecord!).IndexOf(":s:", StringComparison.Ordinal)] + ":idx";
        var entries = await db.SortedSetRangeByRankWithScoresAsync(aliceIndex);
        await db.KeyDeleteAsync(aliceIndex);
        await db.StringSetAsync(aliceIndex, "not an index");

        Assert.Equal(HttpStatusCode.OK, (await alice.ApiGetAsync("/api/whoami")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await admin.ApiGetAsync("/api/whoami")).StatusCode);
        await Poll.Until(() => Task.FromResult<object?>(
            metrics.Sum("gateway.sessions.touches", "outcome=failed") == 1 && metrics.Sum("gateway.sessions.touches", "outcome=written") == 1 ? true : null));
        Assert.InRange((await db.KeyTimeToLiveAsync(adminRecord))!.Value, TimeSpan.FromMinutes(19), TimeSpan.FromMinutes(20));
        Assert.Contains(gateway.Logs.Lines, l => l.Event.Name == "SessionTouchFailed" && l.Message.Contains("1 of ", StringComparison.Ordinal));

        // Mended: alice's next request, seconds later, queues her slide again, and this time her index entry moves too.
        await db.KeyDeleteAsync(aliceIndex);
        await db.SortedSetAddAsync(aliceIndex, entries);
        clock.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(HttpStatusCode.OK, (await alice.ApiGetAsync("/api/whoami")).StatusCode);
        await Poll.Until(() => Task.FromResult<object?>(metrics.Sum("gateway.sessions.touches", "outcome=written") == 2 ? true : null));
        var aliceHash = ((string)aliceRecord!)[(((string)aliceRecord!).IndexOf(":s:", StringComparison.Ordinal) + 3)..];
        Assert.InRange(await db.SortedSetScoreAsync(aliceIndex, aliceHash) ?? 0,
            DateTimeOffset.UtcNow.AddMinutes(19.9).ToUnixTimeMilliseconds(), DateTimeOffset.UtcNow.AddMinutes(20).ToUnixTimeMilliseconds());
        Assert.InRange((await db.KeyTimeToLiveAsync(aliceRecord))!.Value, TimeSpan.FromMinutes(19), TimeSpan.FromMinutes(20));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_session_read_from_the_store_again_and_again_is_slid_once_per_touch_interval(bool nothingCached)
    {
        var clock = new FakeClock();
        // Kept in the cache, the entry holds when it was last slid; with nothing cached, this replica's marks do.
        var (gateway, store, upstream) = await StartAsync(clock, nothingCached ? "gwslide2n:" : "gwslide2:", cacheMaxEntries: nothingCached ? 0 : null);
        await using var _ = gateway;
        await using var __ = upstream;
        using var browser = await gateway.SignedInBrowserAsync("alice", "alice-password");
        clock.Advance(TimeSpan.FromMinutes(2));

        for (var i = 0; i < 5; i++) Assert.Equal(HttpStatusCode.OK, (await browser.ApiGetAsync("/api/whoami")).StatusCode);
        await Poll.Until(() => Task.FromResult<object?>(store.Touches >= 1 ? true : null));
        await Task.Delay(200);
        Assert.Equal(1, store.Touches);

        clock.Advance(TimeSpan.FromSeconds(61));
        for (var i = 0; i < 3; i++) Assert.Equal(HttpStatusCode.OK, (await browser.ApiGetAsync("/api/whoami")).StatusCode);
        await Poll.Until(() => Task.FromResult<object?>(store.Touches >= 2 ? true : null));
        await Task.Delay(200);
        Assert.Equal(2, store.Touches);
    }

    [Fact]
    public async Task A_cached_session_whose_record_vanished_is_dropped_when_its_slide_finds_it_gone()
    {
        var clock = new FakeClock();
        var (gateway, store, upstream) = await StartAsync(clock, "gwslide3:", cacheDuration: "00:05:00");
        await using var _ = gateway;
        await using var __ = upstream;
        using var browser = await gateway.SignedInBrowserAsync("alice", "alice-password");
        Assert.Equal(HttpStatusCode.OK, (await browser.ApiGetAsync("/api/whoami")).StatusCode);
        // The record goes without a word to this replica (expired in Redis, say, or deleted by hand).
        await using (var direct = await ConnectionMultiplexer.ConnectAsync(redis.Configuration))
            foreach (var key in direct.GetServer(direct.GetEndPoints()[0]).Keys(pattern: "gwslide3:*:s:*")) await direct.GetDatabase().KeyDeleteAsync(key);
        clock.Advance(TimeSpan.FromSeconds(61));

        // Served from the cache once, which claims the slide; the slide finds the record gone and drops the entry.
        Assert.Equal(HttpStatusCode.OK, (await browser.ApiGetAsync("/api/whoami")).StatusCode);
        await Poll.Until(() => Task.FromResult<object?>(store.Touches >= 1 ? true : null));
        Assert.Equal(HttpStatusCode.Unauthorized, (await Poll.Until(async () =>
        {
            var response = await browser.ApiGetAsync("/api/whoami");
            return response.StatusCode == HttpStatusCode.Unauthorized ? response : null;
        }))?.StatusCode);
    }

    [Fact]
    public async Task Outside_a_cluster_a_cache_miss_reads_the_store_with_one_command_and_its_slide_is_two_more_and_no_script()
    {
        await using var server = await RedisServer.StartAsync();
        await using var upstream = await RecordingUpstream.StartAsync();
        var config = new GatewayConfig { UpstreamUrl = upstream.BaseUrl + "/" }.WithRedis(server.Configuration).Set("Gateway:Session:CacheDuration", "00:00:00");
        await using var gateway = await GatewayHost.StartAsync(config);
        using var browser = await gateway.SignedInBrowserAsync("alice", "alice-password");
        await using var direct = await server.ConnectAsync();
        var admin = direct.GetServer(direct.GetEndPoints()[0]);
        await Task.Delay(300);
        await admin.ExecuteAsync("CONFIG", "RESETSTAT");

        // A session this replica has not slid yet: the request reads, and the slide follows in the background.
        Assert.Equal(HttpStatusCode.OK, (await browser.ApiGetAsync("/api/whoami")).StatusCode);
        var stats = (await Poll.Until(async () =>
        {
            var info = (await admin.InfoRawAsync("commandstats"))!;
            return info.Contains("expire:", StringComparison.Ordinal) ? info : null;
        }))!;

        // Counted by Redis itself, commands run inside scripts included: one MGET; the slide one PEXPIRE and one ZADD.
        Assert.Contains("cmdstat_mget:calls=1,", stats);
        Assert.Contains("cmdstat_pexpire:calls=1,", stats);
        Assert.Contains("cmdstat_zadd:calls=1,", stats);
        foreach (var other in new[] { "cmdstat_get:", "cmdstat_expire:", "cmdstat_select:", "cmdstat_evalsha:", "cmdstat_eval:", "cmdstat_hset:", "cmdstat_pttl:" }) Assert.DoesNotContain(other, stats);
    }
}
