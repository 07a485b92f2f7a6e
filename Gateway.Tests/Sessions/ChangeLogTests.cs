using Gateway.Redis;
using Gateway.Sessions;
using StackExchange.Redis;
using static Gateway.Tests.Sessions.CacheRevalidationTests;

namespace Gateway.Tests.Sessions;

/// <summary>
/// The store's change log (<c>Gateway:Session:ChangeLog</c>) on a real redis-server, with the replica's own reader
/// running (every real second; the tests wait for what it does, never for a time). Past its <c>CacheDuration</c> a cached
/// session is served on the log instead of a store read, while the log was read through, unbroken, since the session's
/// own read; every write that ends or changes a session reaches the cache through the log even when no revocation
/// message does (the writes here go to the store directly, telling the bus nothing); and a log that breaks, goes
/// unread, or a session past <c>FullReadInterval</c> since its own read, or under a revoked key, is read from the store
/// as before.
/// </summary>
public sealed class ChangeLogTests(SharedRedis redis)
{
    private sealed class Rig(GatewayHost gateway, ReadCountingStore store, FakeClock clock, string prefix, string redisConfiguration) : IAsyncDisposable
    {
        public GatewayHost Gateway => gateway;
        public ReadCountingStore Store => store;
        public FakeClock Clock => clock;
        public string Prefix => prefix;
        public SessionManager Sessions => gateway.Services.GetRequiredService<SessionManager>();
        public SessionCache Cache => gateway.Services.GetRequiredService<SessionCache>();
        public SessionChangeLog Log => gateway.Services.GetRequiredService<SessionChangeLog>();

        public async Task<SessionKey> SignInAsync(string name = "alice") => await Sessions.CreateAsync(new SessionRecord
        {
            UserId = name,
            Name = name,
            Roles = ["editor"],
            Method = "dev",
            CreatedAt = clock.GetUtcNow(),
            AbsoluteExpiresAt = clock.GetUtcNow() + TimeSpan.FromHours(8),
        }, CancellationToken.None);

        public ValueTask<CachedSession?> ResolveAsync(SessionKey key) => Sessions.ResolveAsync(key, CancellationToken.None);

        /// <summary>Waits until the reader has read the log through after the clock's present (so it vouches up to now + CacheDuration).</summary>
        public async Task ReadThroughAsync()
        {
            var now = clock.GetUtcNow();
            Assert.True(await Poll.Until(() => Task.FromResult<object?>(Log.VouchedUntil > now + TimeSpan.FromSeconds(29) ? true : null)) is not null,
                "the change log was not read through within 10 s");
        }

        /// <summary>Waits until the session has left the cache (a log entry applied).</summary>
        public async Task DroppedAsync(SessionKey key) =>
            Assert.True(await Poll.Until(() => Task.FromResult<object?>(Cache.Peek(key) is null ? true : null)) is not null, "the log's entry never dropped the session");

        /// <summary>Waits until the reader has started a new epoch after <paramref name="epoch"/> (a break, then an anchor).</summary>
        public async Task NewEpochAsync(int epoch) =>
            Assert.True(await Poll.Until(() => Task.FromResult<object?>(Log.Epoch > epoch ? true : null)) is not null, "the change log's epoch did not move within 10 s");

        public async Task<IDatabase> DirectAsync()
        {
            var direct = await ConnectionMultiplexer.ConnectAsync(redisConfiguration);
            _direct.Add(direct);
            return direct.GetDatabase();
        }

        private readonly List<ConnectionMultiplexer> _direct = [];

        public async ValueTask DisposeAsync()
        {
            foreach (var direct in _direct) await direct.DisposeAsync();
            await gateway.DisposeAsync();
        }
    }

    private Task<Rig> StartAsync(string prefix, string fullReadInterval = "00:05:00", Action<GatewayConfig>? configure = null) =>
        StartAsync(redis, prefix, fullReadInterval, configure);

    private static async Task<Rig> StartAsync(SharedRedis redis, string prefix, string fullReadInterval, Action<GatewayConfig>? configure)
    {
        ReadCountingStore? store = null;
        var clock = new FakeClock();
        var config = new GatewayConfig().WithRedis(redis.Configuration, prefix)
            .Set("Gateway:Session:ChangeLog", "true")
            .Set("Gateway:Session:FullReadInterval", fullReadInterval)
            // Not read ahead: every store read here is a request's, counted.
            .Set("Gateway:Session:ReadAhead", "false")
            // A key ring of its own: one test revokes its keys, which must reach no other gateway on the shared Redis.
            .Set("Gateway:Redis:DataProtectionKey", prefix + "DataProtection-Keys");
        configure?.Invoke(config);
        var gateway = await GatewayHost.StartAsync(config, clock, services: s =>
            s.AddSingleton<ISessionStore>(sp => store = new ReadCountingStore(ActivatorUtilities.CreateInstance<RedisSessionStore>(sp))));
        gateway.Services.GetRequiredService<ISessionStore>();
        var rig = new Rig(gateway, store!, clock, prefix, redis.Configuration);
        // Anchored first: a session read before the log has a place in it is never vouched for.
        await rig.NewEpochAsync(0);
        return rig;
    }

    /// <summary>A session signed in and read once from the store after the log was anchored, and the reads counted so far.</summary>
    private static async Task<(SessionKey Key, CachedSession Entry, int Reads)> SignedInAsync(Rig rig)
    {
        var key = await rig.SignInAsync();
        var entry = (await rig.ResolveAsync(key))!;
        Assert.NotEqual(0, entry.LogEpoch);
        return (key, entry, rig.Store.Reads);
    }

    /// <summary>
    /// A session signed in, read once, and its first slide landed: a slide after the store ends it would find it gone and
    /// drop it without the log.
    /// </summary>
    private static async Task<SessionKey> SignedInAndSlidAsync(Rig rig)
    {
        using var touches = new MetricsRecorder(rig.Gateway.Services, "gateway.sessions.touches");
        var (key, _, _) = await SignedInAsync(rig);
        Assert.NotNull(await Poll.Until(() => Task.FromResult<object?>(touches.Sum("gateway.sessions.touches") >= 1 ? true : null)));
        return key;
    }

    [Fact]
    public async Task A_session_past_its_cache_duration_is_served_on_the_change_log_without_a_store_read()
    {
        await using var rig = await StartAsync("gwlog1:");
        var (key, entry, reads) = await SignedInAsync(rig);
        using var metrics = new MetricsRecorder(rig.Gateway.Services, "gateway.session_cache.change_log_vouches");

        rig.Clock.Advance(TimeSpan.FromSeconds(31));
        await rig.ReadThroughAsync();
        Assert.Same(entry, await rig.ResolveAsync(key));
        Assert.Equal(reads, rig.Store.Reads);
        Assert.Equal(1, metrics.Sum("gateway.session_cache.change_log_vouches"));

        // Three minutes on, still on the log alone.
        for (var i = 0; i < 6; i++)
        {
            rig.Clock.Advance(TimeSpan.FromSeconds(31));
            await rig.ReadThroughAsync();
            Assert.Same(entry, await rig.ResolveAsync(key));
        }
        Assert.Equal(reads, rig.Store.Reads);
    }

    [Fact]
    public async Task A_session_deleted_through_the_store_with_no_revocation_message_is_dropped_through_the_change_log()
    {
        await using var rig = await StartAsync("gwlog2:");
        var key = await SignedInAndSlidAsync(rig);

        // The store's delete, and no message on the bus: only the log can tell this replica.
        Assert.True(await rig.Store.DeleteAsync(key.Handle, CancellationToken.None));

        await rig.DroppedAsync(key);
        rig.Clock.Advance(TimeSpan.FromSeconds(31));
        await rig.ReadThroughAsync();
        Assert.Null(await rig.ResolveAsync(key));
    }

    [Theory]
    [InlineData("the user's", "gwlog3:")]
    [InlineData("everyone's", "gwlog4:")]
    public async Task A_revoke_all_mark_with_no_revocation_message_drops_the_session_through_the_change_log(string whose, string prefix)
    {
        await using var rig = await StartAsync(prefix);
        var (key, _, _) = await SignedInAsync(rig);

        await rig.Store.MarkRevokedAsync(whose == "everyone's" ? null : key.UserTag, await rig.Store.NowAsync(CancellationToken.None), TimeSpan.FromHours(9),
            CancellationToken.None);

        await rig.DroppedAsync(key);
        Assert.Null(await rig.ResolveAsync(key));
    }

    [Fact]
    public async Task A_record_replaced_with_no_revocation_message_is_read_again_through_the_change_log()
    {
        await using var rig = await StartAsync("gwlog5:");
        var (key, entry, _) = await SignedInAsync(rig);
        var protector = rig.Gateway.Services.GetRequiredService<SessionRecordProtector>();
        var record = (await rig.Sessions.ReloadAsync(key, CancellationToken.None))!;

        Assert.True(await rig.Store.ReplaceAsync(key.Handle, protector.Protect(record with { Name = "alice renamed", SessionHash = key.Handle.Hash }),
            CancellationToken.None));

        await rig.DroppedAsync(key);
        var again = (await rig.ResolveAsync(key))!;
        Assert.NotSame(entry, again);
        Assert.Equal("alice renamed", again.Record.Name);
    }

    [Fact]
    public async Task A_log_deleted_from_redis_breaks_and_a_session_read_before_is_read_from_the_store_again()
    {
        await using var rig = await StartAsync("gwlog6:");
        var (key, entry, reads) = await SignedInAsync(rig);
        var epoch = rig.Log.Epoch;

        var direct = await rig.DirectAsync();
        Assert.True(await direct.KeyDeleteAsync("gwlog6:changes"));
        await rig.NewEpochAsync(epoch);

        rig.Clock.Advance(TimeSpan.FromSeconds(31));
        await rig.ReadThroughAsync();
        using var metrics = new MetricsRecorder(rig.Gateway.Services, "gateway.session_cache.change_log_vouches");
        Assert.Same(entry, await rig.ResolveAsync(key));
        Assert.Equal(0, metrics.Sum("gateway.session_cache.change_log_vouches"));
        // Not on the log: read from the store, which kept it (the same bytes), under the new epoch.
        Assert.Equal(reads + 1, rig.Store.Reads);
        Assert.Equal(rig.Log.Epoch, entry.LogEpoch);
    }

    [Fact]
    public async Task A_log_whose_last_entry_was_rewritten_as_a_failover_would_breaks()
    {
        await using var rig = await StartAsync("gwlog7:");
        var (key, _, reads) = await SignedInAsync(rig);
        var epoch = rig.Log.Epoch;

        // The entry the reader last saw, lost and its id given to another write (a new primary whose clock is behind).
        var direct = await rig.DirectAsync();
        var last = (await direct.StreamRangeAsync("gwlog7:changes", messageOrder: Order.Descending, count: 1)).Single();
        // In one step: the reader never sees the log gone in between (which breaks it on its own).
        await direct.ScriptEvaluateAsync("redis.call('DEL', KEYS[1]) return redis.call('XADD', KEYS[1], ARGV[1], 't', 'another-write', 'r', '')",
            ["gwlog7:changes"], [last.Id]);
        await rig.NewEpochAsync(epoch);

        rig.Clock.Advance(TimeSpan.FromSeconds(31));
        await rig.ReadThroughAsync();
        Assert.NotNull(await rig.ResolveAsync(key));
        Assert.Equal(reads + 1, rig.Store.Reads);
    }

    [Fact]
    public async Task A_log_that_cannot_be_read_vouches_for_nothing_once_its_last_read_is_cache_duration_old()
    {
        await using var rig = await StartAsync("gwlog8:");
        var (key, _, reads) = await SignedInAsync(rig);
        rig.Clock.Advance(TimeSpan.FromSeconds(20));
        await rig.ReadThroughAsync();

        // The log made unreadable (WRONGTYPE), in one step: the reader fails, and vouches for nothing more.
        var direct = await rig.DirectAsync();
        await direct.ScriptEvaluateAsync("redis.call('DEL', KEYS[1]) return redis.call('SET', KEYS[1], 'not a stream')", ["gwlog8:changes"]);
        // A logout that cannot log fails whole: nothing of it applied (Redis does not undo a script's earlier writes).
        await Assert.ThrowsAsync<StoreUnavailableException>(() => rig.Store.TakeAsync(key.Handle, CancellationToken.None));
        Assert.NotNull(await rig.Store.GetAsync(key.Handle, CancellationToken.None));
        reads = rig.Store.Reads;

        rig.Clock.Advance(TimeSpan.FromSeconds(31));
        // The reader has failed since the advance (a failed read of the log is a Redis error of its own).
        using var errors = new MetricsRecorder(rig.Gateway.Services, "gateway.redis.errors");
        Assert.NotNull(await Poll.Until(() => Task.FromResult<object?>(errors.Sum("gateway.redis.errors", "operation=session.change_log") >= 1 ? true : null)));
        Assert.True(rig.Log.VouchedUntil <= rig.Clock.GetUtcNow(), "a log that cannot be read still vouched");
        Assert.NotNull(await rig.ResolveAsync(key));
        Assert.Equal(reads + 1, rig.Store.Reads);
    }

    [Fact]
    public async Task A_session_past_its_full_read_interval_is_read_from_the_store_though_the_log_is_current()
    {
        await using var rig = await StartAsync("gwlog9:", fullReadInterval: "00:01:00");
        var (key, entry, reads) = await SignedInAsync(rig);

        rig.Clock.Advance(TimeSpan.FromSeconds(31));
        await rig.ReadThroughAsync();
        Assert.Same(entry, await rig.ResolveAsync(key));
        Assert.Equal(reads, rig.Store.Reads);

        // 62 s after its own read: past the minute.
        rig.Clock.Advance(TimeSpan.FromSeconds(31));
        await rig.ReadThroughAsync();
        Assert.Same(entry, await rig.ResolveAsync(key));
        Assert.Equal(reads + 1, rig.Store.Reads);
    }

    [Fact]
    public async Task A_session_whose_record_key_was_revoked_is_not_served_on_the_log_and_is_refused_past_its_cache_duration()
    {
        await using var rig = await StartAsync("gwlog10:");
        var (key, _, _) = await SignedInAsync(rig);

        rig.Gateway.Services.GetRequiredService<Microsoft.AspNetCore.DataProtection.KeyManagement.IKeyManager>()
            .RevokeAllKeys(DateTimeOffset.UtcNow.AddSeconds(1), "test: compromise");
        var protector = rig.Gateway.Services.GetRequiredService<SessionRecordProtector>();
        var stored = (await rig.Store.GetAsync(key.Handle, CancellationToken.None))!;
        Assert.NotNull(await Poll.Until(() => Task.FromResult<object?>(protector.StillReadable(stored.Record) ? null : true)));

        rig.Clock.Advance(TimeSpan.FromSeconds(31));
        await rig.ReadThroughAsync();
        Assert.Null(await rig.ResolveAsync(key));
        Assert.Null(rig.Cache.Peek(key));
    }

    [Fact]
    public async Task A_session_taken_through_the_store_as_a_logout_takes_it_with_no_revocation_message_is_dropped_through_the_change_log()
    {
        await using var rig = await StartAsync("gwlog12:");
        var key = await SignedInAndSlidAsync(rig);

        Assert.NotNull(await rig.Store.TakeAsync(key.Handle, CancellationToken.None));

        await rig.DroppedAsync(key);
        Assert.Null(await rig.ResolveAsync(key));
    }

    [Fact]
    public async Task Each_batch_of_a_users_revoke_all_is_logged_as_well_as_its_mark()
    {
        await using var rig = await StartAsync("gwlog13:");
        var (key, _, _) = await SignedInAsync(rig);

        Assert.Equal(1, await rig.Store.DeleteByUserAsync(key.UserTag, await rig.Store.NowAsync(CancellationToken.None), TimeSpan.FromHours(9),
            CancellationToken.None));

        var direct = await rig.DirectAsync();
        var entries = await direct.StreamRangeAsync("gwlog13:changes");
        // The mark, then the batch that deleted the session: a session created after the mark and deleted by the batch
        // reaches every cache through the second.
        Assert.Equal(2, entries.Count(e => e["r"] == "u:" + key.UserTag));
        await rig.DroppedAsync(key);
    }

    [Fact]
    public async Task A_session_the_log_will_vouch_for_is_not_read_ahead_and_one_it_no_longer_will_is()
    {
        await using var rig = await StartAsync("gwlog14:");
        var (key, entry, _) = await SignedInAsync(rig);
        using var metrics = new MetricsRecorder(rig.Gateway.Services, "gateway.session_cache.refreshes");
        var refreshes = rig.Gateway.Services.GetRequiredService<SessionRefreshes>();

        // Within two looks of its cached time: due, but the log vouches for it.
        rig.Clock.Advance(TimeSpan.FromSeconds(26));
        await rig.ReadThroughAsync();
        await refreshes.RefreshDueAsync([], default);
        Assert.Equal(0, metrics.Sum("gateway.session_cache.refreshes"));

        // The log broken: nothing vouches for it, so it is read ahead as before.
        var epoch = rig.Log.Epoch;
        var direct = await rig.DirectAsync();
        await direct.KeyDeleteAsync("gwlog14:changes");
        await rig.NewEpochAsync(epoch);
        await refreshes.RefreshDueAsync([], default);
        Assert.Equal(1, metrics.Sum("gateway.session_cache.refreshes", "outcome=kept"));
        Assert.Same(entry, rig.Cache.Peek(key));
    }

    [Fact]
    public async Task A_session_idle_here_but_alive_in_the_store_is_read_from_it_and_served_not_refused_on_the_log()
    {
        // Its requests went to other replicas, whose slides this one never sees: the store holds it alive (its TTL runs on
        // Redis's own clock, untouched by the fake one), while by this replica's reckoning it is idle past the minute.
        await using var rig = await StartAsync("gwlog15:", configure: c => c.Set("Gateway:Session:IdleTimeout", "00:01:00")
            .Set("Gateway:Session:TouchInterval", "00:00:30"));
        var (key, entry, reads) = await SignedInAsync(rig);

        rig.Clock.Advance(TimeSpan.FromSeconds(61));
        await rig.ReadThroughAsync();
        Assert.Same(entry, await rig.ResolveAsync(key));
        Assert.Equal(reads + 1, rig.Store.Reads);
    }
}

