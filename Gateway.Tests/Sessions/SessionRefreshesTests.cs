using Gateway.Redis;
using Gateway.Sessions;
using Microsoft.AspNetCore.Http;
using StackExchange.Redis;

namespace Gateway.Tests.Sessions;

/// <summary>
/// A cached session in use is read from the store ahead of its cached time, in the background, so its requests do not
/// wait on the store; the read keeps the entry only as a request's read would, and never serves it longer after the
/// store last showed it than <c>CacheDuration</c>. The gateway's clock is a fake one the tests move. One test lets the
/// background look run on its real timer (every 3 s for the default 30 s) and waits for its outcome; the others turn
/// it off and make the look themselves, so nothing depends on when a timer fires.
/// </summary>
public sealed class SessionRefreshesTests(SharedRedis redis)
{
    private static readonly TimeSpan CacheDuration = TimeSpan.FromSeconds(30);
    // Into the last two looks' worth of the cached time (6 s), not past it.
    private static readonly TimeSpan NearlyOut = CacheDuration - TimeSpan.FromSeconds(4);

    private sealed record Signed(CmsRig Rig, Browser Browser, CachedSession Entry, FakeClock Clock) : IAsyncDisposable
    {
        public SessionCache Cache => Rig.Gateway.Services.GetRequiredService<SessionCache>();

        /// <summary>One look over the cache, as the background service makes it.</summary>
        public Task LookAsync() => Rig.Gateway.Services.GetRequiredService<SessionRefreshes>().RefreshDueAsync([], default);

        public async ValueTask DisposeAsync()
        {
            Browser.Dispose();
            await Rig.DisposeAsync();
        }
    }

    /// <summary>
    /// Signed in, the session fetched from the store by one request and, with <paramref name="readAgain"/>, read from the
    /// cache by another. With <paramref name="timer"/> false the background look never runs by itself.
    /// </summary>
    private async Task<Signed> SignedInAsync(bool readAgain = true, bool timer = false, Action<IServiceCollection>? services = null,
        Action<GatewayConfig>? settings = null)
    {
        var clock = new FakeClock();
        var rig = await CmsRig.StartAsync(redis.Configuration, c =>
        {
            c.Set("Gateway:Session:ReadAhead", timer ? "true" : "false");
            settings?.Invoke(c);
        }, time: clock, services: services);
        var browser = await rig.Gateway.SignedInBrowserAsync("alice", "alice-password");
        Assert.Equal(HttpStatusCode.OK, (await browser.ApiGetAsync("/api/whoami")).StatusCode);
        if (readAgain) Assert.Equal(HttpStatusCode.OK, (await browser.ApiGetAsync("/api/whoami")).StatusCode);
        var request = new DefaultHttpContext();
        request.Request.Headers.Cookie = $"gw_session={browser.Cookie("gw_session")}";
        var key = rig.Gateway.Services.GetRequiredService<SessionCookies>().Read(request.Request)!.Value;
        var entry = rig.Gateway.Services.GetRequiredService<SessionCache>().Peek(key);
        Assert.NotNull(entry);
        return new Signed(rig, browser, entry, clock);
    }

    /// <summary>Works on the rig's Redis directly, as someone with access to it would, past the gateway.</summary>
    private async Task OnRedisAsync(Func<ConnectionMultiplexer, Task> use)
    {
        await using var mux = await redis.Server.ConnectAsync();
        await use(mux);
    }

    private static RedisKey RecordKey(ConnectionMultiplexer mux, Signed signed) =>
        mux.GetServer(mux.GetEndPoints()[0]).Keys(pattern: $"{signed.Rig.KeyPrefix}*:s:*").Single();

    /// <summary>The look dropped the entry (one dropped, counted), and the session's next request is refused.</summary>
    private static async Task AssertDroppedAndRefusedAsync(Signed signed, MetricsRecorder metrics)
    {
        Assert.Null(signed.Cache.Peek(signed.Entry.Key));
        Assert.Equal(CachedSession.Residency.Retired, signed.Entry.State);
        Assert.Equal(1, metrics.Sum("gateway.session_cache.refreshes", "outcome=dropped"));
        Assert.Equal(HttpStatusCode.Unauthorized, (await signed.Browser.ApiGetAsync("/api/whoami")).StatusCode);
    }

    private static Action<IServiceCollection> Hooked(Action<HookedReads> created) =>
        s => s.AddSingleton<ISessionStore>(sp =>
        {
            var store = new HookedReads(ActivatorUtilities.CreateInstance<RedisSessionStore>(sp));
            created(store);
            return store;
        });

    [Fact]
    public async Task A_session_in_use_is_read_ahead_and_served_past_its_first_cached_time_without_its_request_reading_the_store()
    {
        HookedReads? store = null;
        await using var signed = await SignedInAsync(timer: true, services: Hooked(s => store = s));
        // The store takes its time to answer: the entry's new time counts from when the read went out, not from the answer.
        store!.During = () => signed.Clock.Advance(TimeSpan.FromSeconds(2));
        using var metrics = new MetricsRecorder(signed.Rig.Gateway.Services, "gateway.session_cache.refreshes", "gateway.session_cache.lookups",
            "gateway.session_cache.revalidations");
        var firstUntil = signed.Entry.CachedUntil;
        // Lookups and revalidations are running totals: what the two requests of signing in counted comes off.
        var (hits, misses) = (metrics.Sum("gateway.session_cache.lookups", "result=hit"), metrics.Sum("gateway.session_cache.lookups", "result=miss"));
        var readAt = signed.Clock.GetUtcNow() + NearlyOut;

        signed.Clock.Advance(NearlyOut);
        // The entry's time moves first, the count after it: both, however late the background look runs.
        Assert.True(await Poll.Until(() => Task.FromResult(signed.Entry.CachedUntil > firstUntil && metrics.Sum("gateway.session_cache.refreshes", "outcome=kept") > 0
            ? (bool?)true : null), 15_000) is true, "the entry was not read ahead");

        // Served for CacheDuration from when the background read went out: never longer after the store last showed it.
        Assert.Equal(readAt + CacheDuration, signed.Entry.CachedUntil);
        Assert.Equal(1, metrics.Sum("gateway.session_cache.refreshes", "outcome=kept"));
        // Past the first cached time: the same entry serves the request, a cache hit, no store read.
        signed.Clock.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(HttpStatusCode.OK, (await signed.Browser.ApiGetAsync("/api/whoami")).StatusCode);
        Assert.Same(signed.Entry, signed.Cache.Peek(signed.Entry.Key));
        Assert.True(metrics.Sum("gateway.session_cache.lookups", "result=hit") > hits);
        Assert.Equal(misses, metrics.Sum("gateway.session_cache.lookups", "result=miss"));
        Assert.Equal(0, metrics.Sum("gateway.session_cache.revalidations"));
    }

    [Fact]
    public async Task A_session_deleted_in_redis_without_a_message_is_dropped_by_the_read_ahead_and_refused()
    {
        await using var signed = await SignedInAsync();
        using var metrics = new MetricsRecorder(signed.Rig.Gateway.Services, "gateway.session_cache.refreshes");
        // Gone behind the gateway's back: no revocation is published, so only a read of the store can tell.
        await OnRedisAsync(async mux => Assert.True(await mux.GetDatabase().KeyDeleteAsync(RecordKey(mux, signed))));

        signed.Clock.Advance(NearlyOut);
        await signed.LookAsync();

        await AssertDroppedAndRefusedAsync(signed, metrics);
    }

    [Fact]
    public async Task A_users_revoke_all_mark_written_without_a_message_drops_the_entry_at_the_read_ahead_and_the_session_is_refused()
    {
        await using var signed = await SignedInAsync();
        using var metrics = new MetricsRecorder(signed.Rig.Gateway.Services, "gateway.session_cache.refreshes");
        // The user's mark, moved past the session (what revoking a user's sessions writes first), by the store's clock
        // like the session's issue time; the message that would drop the entry at once never comes.
        var store = signed.Rig.Gateway.Services.GetRequiredService<ISessionStore>();
        await store.MarkRevokedAsync(signed.Entry.Key.Handle.UserTag, await store.NowAsync(default), TimeSpan.FromHours(1), default);

        signed.Clock.Advance(NearlyOut);
        await signed.LookAsync();

        await AssertDroppedAndRefusedAsync(signed, metrics);
    }

    [Fact]
    public async Task A_record_overwritten_in_redis_with_another_users_record_is_dropped_and_the_cookie_refused()
    {
        await using var signed = await SignedInAsync();
        using var admin = await signed.Rig.Gateway.SignedInBrowserAsync("admin", "admin-password");
        Assert.Equal(HttpStatusCode.OK, (await admin.ApiGetAsync("/api/whoami")).StatusCode);
        using var metrics = new MetricsRecorder(signed.Rig.Gateway.Services, "gateway.session_cache.refreshes");
        // Someone with write access to Redis puts admin's genuine record under alice's session.
        await OnRedisAsync(async mux =>
        {
            var keys = mux.GetServer(mux.GetEndPoints()[0]).Keys(pattern: $"{signed.Rig.KeyPrefix}*:s:*").ToList();
            Assert.Equal(2, keys.Count);
            var db = mux.GetDatabase();
            var alices = (await Task.WhenAll(keys.Select(async k => (Key: k, Bytes: (byte[])(await db.StringGetAsync(k))!))))
                .Single(k => CachedSession.DigestOf(k.Bytes) == signed.Entry.StoredDigest).Key;
            var admins = keys.Single(k => k != alices);
            await db.StringSetAsync(alices, await db.StringGetAsync(admins), TimeSpan.FromMinutes(10));
        });

        signed.Clock.Advance(NearlyOut);
        await signed.LookAsync();

        // The next request reads the store, finds a record that is not this session's, and refuses the cookie.
        await AssertDroppedAndRefusedAsync(signed, metrics);
    }

    [Fact]
    public async Task A_session_ended_on_this_replica_unacknowledged_is_dropped_whatever_the_store_shows()
    {
        await using var signed = await SignedInAsync();
        using var metrics = new MetricsRecorder(signed.Rig.Gateway.Services, "gateway.session_cache.refreshes");
        // Ended here while no replica acknowledged it, and its record back in the store (a failover), yet still cached
        // here: the read ahead must not keep it.
        var now = signed.Clock.GetUtcNow();
        signed.Rig.Gateway.Services.GetRequiredService<EndedHere>().Add(signed.Entry.Key, now.AddHours(1), now);

        signed.Clock.Advance(NearlyOut);
        await signed.LookAsync();

        await AssertDroppedAndRefusedAsync(signed, metrics);
    }

    [Fact]
    public async Task The_read_ahead_is_no_activity_and_a_shed_entry_stays_shed_and_counted_as_shed()
    {
        await using var signed = await SignedInAsync();
        using var metrics = new MetricsRecorder(signed.Rig.Gateway.Services, "gateway.session_cache.refreshes");
        signed.Cache.ShedIdle();
        signed.Cache.ShedIdle();
        Assert.Equal(CachedSession.Residency.Shed, signed.Entry.State);
        var (touched, counted) = (signed.Entry.LastTouchedAt, signed.Cache.EstimatedBytes);

        signed.Clock.Advance(NearlyOut);
        await signed.LookAsync();

        Assert.Equal(1, metrics.Sum("gateway.session_cache.refreshes", "outcome=kept"));
        Assert.Equal(CachedSession.Residency.Shed, signed.Entry.State);
        Assert.Equal(counted, signed.Cache.EstimatedBytes);
        // Not slid: the idle timeout counts from the last request, whatever the reads ahead keep.
        Assert.Equal(touched, signed.Entry.LastTouchedAt);
    }

    [Fact]
    public async Task An_entry_no_request_read_through_the_window_of_reads_ahead_is_left_to_its_next_request()
    {
        // Signed in and fetched once: used at its store read, nothing since.
        await using var signed = await SignedInAsync(readAgain: false);
        using var metrics = new MetricsRecorder(signed.Rig.Gateway.Services, "gateway.session_cache.refreshes", "gateway.session_cache.revalidations");

        // One look near the end of each cached time the one before gave: each reads it ahead, up to the window.
        await LooksNearEachEndAsync(signed, CachedSession.ReadAheadWindow);
        Assert.Equal(CachedSession.ReadAheadWindow, metrics.Sum("gateway.session_cache.refreshes", "outcome=kept"));

        // The next finds no request through the whole window: the entry is left to run out.
        var lastUntil = signed.Entry.CachedUntil;
        await LooksNearEachEndAsync(signed, 1);
        Assert.Equal(lastUntil, signed.Entry.CachedUntil);
        Assert.Equal(CachedSession.ReadAheadWindow, metrics.Sum("gateway.session_cache.refreshes"));

        // Past its time its request reads the store itself and keeps the entry, as without the read ahead.
        signed.Clock.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(HttpStatusCode.OK, (await signed.Browser.ApiGetAsync("/api/whoami")).StatusCode);
        Assert.Same(signed.Entry, signed.Cache.Peek(signed.Entry.Key));
        Assert.Equal(1, metrics.Sum("gateway.session_cache.revalidations"));

        // That read was a use: the window starts again.
        await LooksNearEachEndAsync(signed, 1);
        Assert.Equal(CachedSession.ReadAheadWindow + 1, metrics.Sum("gateway.session_cache.refreshes", "outcome=kept"));
    }

    [Fact]
    public async Task An_entry_idle_past_its_timeout_is_not_read_ahead_and_its_next_request_is_refused()
    {
        await using var signed = await SignedInAsync(readAgain: false, settings: c => c
            .Set("Gateway:Session:IdleTimeout", "00:01:00")
            .Set("Gateway:Session:TouchInterval", "00:00:30"));
        using var metrics = new MetricsRecorder(signed.Rig.Gateway.Services, "gateway.session_cache.refreshes");
        var lastSlide = signed.Entry.LastTouchedAt;

        // Read ahead at 26 s, used at 26 s (before a slide is due), read ahead again at 52 s: the reads ahead are no
        // activity, so the idle timeout still counts from the slide at sign-in.
        await LooksNearEachEndAsync(signed, 1);
        Assert.Equal(HttpStatusCode.OK, (await signed.Browser.ApiGetAsync("/api/whoami")).StatusCode);
        await LooksNearEachEndAsync(signed, 1);
        Assert.Equal(2, metrics.Sum("gateway.session_cache.refreshes", "outcome=kept"));
        Assert.Equal(lastSlide, signed.Entry.LastTouchedAt);

        // At 78 s, within the window (one read ahead since the use) but past the idle timeout: no read.
        await LooksNearEachEndAsync(signed, 1);
        Assert.True(signed.Clock.GetUtcNow() >= lastSlide + TimeSpan.FromMinutes(1));
        Assert.Equal(2, metrics.Sum("gateway.session_cache.refreshes"));
        Assert.Equal(HttpStatusCode.Unauthorized, (await signed.Browser.ApiGetAsync("/api/whoami")).StatusCode);
    }

    [Fact]
    public async Task A_request_between_the_reads_ahead_keeps_the_entry_read_ahead()
    {
        await using var signed = await SignedInAsync(readAgain: false);
        using var metrics = new MetricsRecorder(signed.Rig.Gateway.Services, "gateway.session_cache.refreshes", "gateway.session_cache.revalidations");
        await LooksNearEachEndAsync(signed, CachedSession.ReadAheadWindow);

        // Served from the cache (its time not yet out): a use, so the window starts again.
        Assert.Equal(HttpStatusCode.OK, (await signed.Browser.ApiGetAsync("/api/whoami")).StatusCode);
        await LooksNearEachEndAsync(signed, CachedSession.ReadAheadWindow);

        Assert.Equal(2 * CachedSession.ReadAheadWindow, metrics.Sum("gateway.session_cache.refreshes", "outcome=kept"));
        Assert.Equal(0, metrics.Sum("gateway.session_cache.revalidations"));
        Assert.Same(signed.Entry, signed.Cache.Peek(signed.Entry.Key));
    }

    /// <summary><paramref name="looks"/> looks, each with the clock moved to a little before the entry's cached time runs out.</summary>
    private static async Task LooksNearEachEndAsync(Signed signed, int looks)
    {
        for (var i = 0; i < looks; i++)
        {
            signed.Clock.Advance(signed.Entry.CachedUntil - TimeSpan.FromSeconds(4) - signed.Clock.GetUtcNow());
            await signed.LookAsync();
        }
    }

    [Fact]
    public async Task A_read_ahead_the_store_fails_changes_nothing_and_the_request_past_the_cached_time_reads_the_store()
    {
        FailingReads? store = null;
        await using var signed = await SignedInAsync(services: s =>
            s.AddSingleton<ISessionStore>(sp => store = new FailingReads(ActivatorUtilities.CreateInstance<RedisSessionStore>(sp))));
        using var metrics = new MetricsRecorder(signed.Rig.Gateway.Services, "gateway.session_cache.refreshes", "gateway.session_cache.revalidations");
        var firstUntil = signed.Entry.CachedUntil;

        signed.Clock.Advance(NearlyOut);
        await signed.LookAsync();

        Assert.Equal(1, metrics.Sum("gateway.session_cache.refreshes", "outcome=failed"));
        Assert.Equal(firstUntil, signed.Entry.CachedUntil);
        Assert.Same(signed.Entry, signed.Cache.Peek(signed.Entry.Key));
        Assert.Contains(signed.Rig.Gateway.Logs.Lines, l => l.Event.Name == "SessionRefreshFailed");
        // Not retried: the next look, with the entry still about to run out, leaves it to its request.
        signed.Clock.Advance(TimeSpan.FromSeconds(3));
        await signed.LookAsync();
        Assert.Equal(1, store!.Failed);
        Assert.Equal(1, metrics.Sum("gateway.session_cache.refreshes"));
        signed.Clock.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(HttpStatusCode.OK, (await signed.Browser.ApiGetAsync("/api/whoami")).StatusCode);
        Assert.Equal(1, metrics.Sum("gateway.session_cache.revalidations"));
        Assert.Equal(1, store!.Failed);
    }

    [Fact]
    public async Task A_revocation_of_the_session_applied_while_its_read_is_out_keeps_it_from_being_extended()
    {
        HookedReads? store = null;
        await using var signed = await SignedInAsync(services: Hooked(s => store = s));
        using var metrics = new MetricsRecorder(signed.Rig.Gateway.Services, "gateway.session_cache.refreshes");
        var firstUntil = signed.Entry.CachedUntil;
        // While the batch's read is out, the session is revoked (as a message from another replica would do).
        store!.During = () => signed.Cache.Remove(signed.Entry.Key);

        signed.Clock.Advance(NearlyOut);
        await signed.LookAsync();

        Assert.Equal(1, store.Reads);
        Assert.Equal(firstUntil, signed.Entry.CachedUntil);
        Assert.Null(signed.Cache.Peek(signed.Entry.Key));
        Assert.Equal(CachedSession.Residency.Retired, signed.Entry.State);
        Assert.Equal(1, metrics.Sum("gateway.session_cache.refreshes", "outcome=raced"));
        Assert.Equal(0, metrics.Sum("gateway.session_cache.refreshes", "outcome=kept"));
    }

    [Fact]
    public async Task Another_sessions_revocation_while_the_read_is_out_leaves_this_one_kept()
    {
        HookedReads? store = null;
        await using var signed = await SignedInAsync(services: Hooked(s => store = s));
        using var metrics = new MetricsRecorder(signed.Rig.Gateway.Services, "gateway.session_cache.refreshes");
        var firstUntil = signed.Entry.CachedUntil;
        // Someone else's logout lands meanwhile: it must not cost this session its read.
        store!.During = () => signed.Cache.Remove(SessionKey.NewFor("someone-else"));

        signed.Clock.Advance(NearlyOut);
        await signed.LookAsync();

        Assert.Equal(1, metrics.Sum("gateway.session_cache.refreshes", "outcome=kept"));
        Assert.Equal(firstUntil + NearlyOut, signed.Entry.CachedUntil);
        Assert.Same(signed.Entry, signed.Cache.Peek(signed.Entry.Key));
    }

    [Fact]
    public async Task A_batch_some_of_whose_reads_timed_out_keeps_what_answered_and_ends_the_look()
    {
        var clock = new FakeClock();
        TimingOutReads? store = null;
        await using var host = await GatewayHost.StartAsync(new GatewayConfig().Set("Gateway:Session:ReadAhead", "false"), clock,
            services: s => s.AddSingleton<ISessionStore>(sp => store = new TimingOutReads(new InMemorySessionStore(clock))));
        var sessions = host.Services.GetRequiredService<SessionManager>();
        var cache = host.Services.GetRequiredService<SessionCache>();
        using var metrics = new MetricsRecorder(host.Services, "gateway.session_cache.refreshes");
        // Two batches' worth (128 a batch), each read by a request since the store showed it.
        var entries = new List<CachedSession>();
        for (var i = 0; i < 200; i++)
        {
            var now = clock.GetUtcNow();
            var key = await sessions.CreateAsync(new SessionRecord { UserId = $"user-{i}", CreatedAt = now, AbsoluteExpiresAt = now.AddHours(8), Method = "dev" }, default);
            Assert.NotNull(await sessions.ResolveAsync(key, default));
            entries.Add((await sessions.ResolveAsync(key, default))!);
        }
        var firstUntil = entries.Select(e => e.CachedUntil).ToList();

        clock.Advance(NearlyOut);
        await host.Services.GetRequiredService<SessionRefreshes>().RefreshDueAsync([], default);

        // One batch was sent, half of it answered: those kept, the rest of it and the whole second batch left as they were.
        Assert.Equal(1, store!.Batches);
        Assert.Equal(64, metrics.Sum("gateway.session_cache.refreshes", "outcome=kept"));
        Assert.Equal(136, metrics.Sum("gateway.session_cache.refreshes", "outcome=failed"));
        Assert.Equal(64, entries.Where((e, i) => e.CachedUntil > firstUntil[i]).Count());
        Assert.All(entries, e => Assert.Same(e, cache.Peek(e.Key)));
        Assert.Contains(host.Logs.Lines, l => l.Event.Name == "SessionRefreshFailed" && l.Message.Contains("timed out", StringComparison.Ordinal));
    }

    /// <summary>The first batch read answers its first half and times out on the rest, as with a shard that hangs.</summary>
    private sealed class TimingOutReads(ISessionStore inner) : DelegatingSessionStore(inner)
    {
        private int _batches;

        public int Batches => Volatile.Read(ref _batches);

        public override async Task<SessionRead[]> GetEachAsync(IReadOnlyList<SessionHandle> sessions, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _batches);
            var reads = await base.GetEachAsync(sessions, cancellationToken);
            for (var i = reads.Length / 2; i < reads.Length; i++) reads[i] = SessionRead.TimeOut;
            return reads;
        }
    }

    /// <summary>The real Redis store, whose batch reads fail as in an outage.</summary>
    private sealed class FailingReads(ISessionStore inner) : DelegatingSessionStore(inner)
    {
        private int _failed;

        public int Failed => Volatile.Read(ref _failed);

        public override Task<SessionRead[]> GetEachAsync(IReadOnlyList<SessionHandle> sessions, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _failed);
            throw new StoreUnavailableException("Redis timed out (session.get_each)");
        }
    }

    /// <summary>The real Redis store; a batch read runs <see cref="During"/> once it has the store's answer.</summary>
    private sealed class HookedReads(ISessionStore inner) : DelegatingSessionStore(inner)
    {
        private int _reads;

        public Action? During { get; set; }

        public int Reads => Volatile.Read(ref _reads);

        public override async Task<SessionRead[]> GetEachAsync(IReadOnlyList<SessionHandle> sessions, CancellationToken cancellationToken)
        {
            var reads = await Inner.GetEachAsync(sessions, cancellationToken);
            During?.Invoke();
            Interlocked.Increment(ref _reads);
            return reads;
        }
    }
}
