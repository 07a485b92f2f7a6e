using Gateway.Identity;
using Gateway.Redis;
using Gateway.Sessions;
using StackExchange.Redis;

namespace Gateway.Tests.Sessions;

/// <summary>
/// A cached session past its <c>CacheDuration</c> is read from the store again (one read) and, when the store still holds
/// the very bytes it was built from and no revocation mark covers it, kept as it is: its header values and signed
/// assertion are served again, nothing is decrypted or signed. Anything else the store says wins: a record rewritten, a
/// revoke-all mark, a session gone, a revocation that lands during the read. On the real Redis store, told nothing by the
/// revocation bus (the writes go to Redis directly), so only the read can find out.
/// </summary>
public sealed class CacheRevalidationTests(SharedRedis redis)
{
    private sealed class Rig(GatewayHost gateway, ReadCountingStore store, FakeClock clock) : IAsyncDisposable
    {
        public GatewayHost Gateway => gateway;
        public ReadCountingStore Store => store;
        public FakeClock Clock => clock;
        public SessionManager Sessions => gateway.Services.GetRequiredService<SessionManager>();
        public SessionCache Cache => gateway.Services.GetRequiredService<SessionCache>();
        public AssertionIssuer Assertions => gateway.Services.GetRequiredService<AssertionIssuer>();

        public async Task<SessionKey> SignInAsync(string name = "alice", TimeSpan? lifetime = null) => await Sessions.CreateAsync(new SessionRecord
        {
            UserId = name,
            Name = name,
            Roles = ["editor"],
            Method = "dev",
            CreatedAt = clock.GetUtcNow(),
            AbsoluteExpiresAt = clock.GetUtcNow() + (lifetime ?? TimeSpan.FromHours(8)),
        }, CancellationToken.None);

        public ValueTask<CachedSession?> ResolveAsync(SessionKey key) => Sessions.ResolveAsync(key, CancellationToken.None);

        public ValueTask DisposeAsync() => gateway.DisposeAsync();
    }

    /// <summary>Counts store reads of a session; <see cref="Hold"/> keeps a read's answer back until it is set.</summary>
    internal sealed class ReadCountingStore(ISessionStore inner) : DelegatingSessionStore(inner)
    {
        private int _reads;

        public int Reads => Volatile.Read(ref _reads);

        public TaskCompletionSource? Hold { get; set; }

        public TaskCompletionSource ReadDone { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override async Task<StoredSession?> GetAsync(SessionHandle session, CancellationToken cancellationToken)
        {
            var stored = await Inner.GetAsync(session, cancellationToken);
            Interlocked.Increment(ref _reads);
            if (Hold is { } hold)
            {
                ReadDone.TrySetResult();
                await hold.Task;
            }
            return stored;
        }
    }

    private async Task<Rig> StartAsync(string prefix, string cacheDuration = "00:00:30")
    {
        ReadCountingStore? store = null;
        var clock = new FakeClock();
        var config = new GatewayConfig().WithRedis(redis.Configuration, prefix).Set("Gateway:Session:CacheDuration", cacheDuration)
            // A key ring of its own: one test revokes its keys, which must reach no other gateway on the shared Redis.
            .Set("Gateway:Redis:DataProtectionKey", prefix + "DataProtection-Keys");
        var gateway = await GatewayHost.StartAsync(config, clock, services: s =>
            s.AddSingleton<ISessionStore>(sp => store = new ReadCountingStore(ActivatorUtilities.CreateInstance<RedisSessionStore>(sp))));
        gateway.Services.GetRequiredService<ISessionStore>();
        return new Rig(gateway, store!, clock);
    }

    /// <summary>Deletes the one session record under <paramref name="prefix"/> straight in Redis, telling no replica.</summary>
    private async Task DeleteRecordInRedisAsync(string prefix)
    {
        await using var direct = await ConnectionMultiplexer.ConnectAsync(redis.Configuration);
        Assert.True(await direct.GetDatabase().KeyDeleteAsync(direct.GetServer(direct.GetEndPoints()[0]).Keys(pattern: prefix + "*:s:*").Single()));
    }

    private static async Task<string> AssertionAsync(Rig rig, CachedSession session) =>
        await rig.Assertions.GetAsync(session, null, CancellationToken.None);

    [Fact]
    public async Task A_session_past_its_cached_time_with_its_record_unchanged_is_kept_with_its_assertion_after_one_store_read()
    {
        await using var rig = await StartAsync("gwreval1:");
        var key = await rig.SignInAsync();
        var first = (await rig.ResolveAsync(key))!;
        var assertion = await AssertionAsync(rig, first);
        var reads = rig.Store.Reads;
        using var metrics = new MetricsRecorder(rig.Gateway.Services, "gateway.session_cache.revalidations");

        rig.Clock.Advance(TimeSpan.FromSeconds(31));
        var again = await rig.ResolveAsync(key);

        Assert.Equal(reads + 1, rig.Store.Reads);
        Assert.Same(first, again);
        Assert.Equal(1, metrics.Sum("gateway.session_cache.revalidations"));
        // The assertion signed before is served again: not signed anew (a new one carries a new jti).
        Assert.Equal(assertion, await AssertionAsync(rig, again!));
        // Kept for another CacheDuration: the next request reads nothing.
        rig.Clock.Advance(TimeSpan.FromSeconds(20));
        Assert.Same(first, await rig.ResolveAsync(key));
        Assert.Equal(reads + 1, rig.Store.Reads);
    }

    [Fact]
    public async Task With_no_cache_duration_every_request_reads_the_store_and_a_session_deleted_there_is_refused_on_the_next()
    {
        await using var rig = await StartAsync("gwreval11:", cacheDuration: "00:00:00");
        var key = await rig.SignInAsync();
        var first = (await rig.ResolveAsync(key))!;
        var assertion = await AssertionAsync(rig, first);
        var reads = rig.Store.Reads;

        // Each request reads; the entry the read finds unchanged is kept, with its assertion.
        Assert.Same(first, await rig.ResolveAsync(key));
        Assert.Same(first, await rig.ResolveAsync(key));
        Assert.Equal(reads + 2, rig.Store.Reads);
        Assert.Equal(assertion, await AssertionAsync(rig, first));

        await DeleteRecordInRedisAsync("gwreval11:");
        Assert.Null(await rig.ResolveAsync(key));
        Assert.Null(rig.Cache.Peek(key));
    }

    [Fact]
    public async Task A_record_rewritten_in_the_store_is_read_again_and_served_as_rewritten_with_a_new_assertion()
    {
        await using var rig = await StartAsync("gwreval2:");
        var key = await rig.SignInAsync();
        var first = (await rig.ResolveAsync(key))!;
        var assertion = await AssertionAsync(rig, first);
        using var metrics = new MetricsRecorder(rig.Gateway.Services, "gateway.session_cache.revalidations");

        // Another writer changes the record (the bus tells this replica nothing): the same session, a new name.
        var protector = rig.Gateway.Services.GetRequiredService<SessionRecordProtector>();
        var stored = (await rig.Store.GetAsync(key.Handle, CancellationToken.None))!;
        var record = protector.Unprotect(stored.Record)!;
        Assert.True(await rig.Store.ReplaceAsync(key.Handle, protector.Protect(record with { Name = "Alice Renamed" }), CancellationToken.None));

        rig.Clock.Advance(TimeSpan.FromSeconds(31));
        var again = (await rig.ResolveAsync(key))!;

        Assert.NotSame(first, again);
        Assert.Equal("Alice Renamed", again.Record.Name);
        Assert.Equal("Alice Renamed", again.HeaderValues.Name);
        Assert.NotEqual(assertion, await AssertionAsync(rig, again));
        Assert.Same(again, rig.Cache.Peek(key));
        Assert.Equal(0, metrics.Sum("gateway.session_cache.revalidations"));
    }

    [Fact]
    public async Task The_same_record_encrypted_again_is_new_bytes_and_is_rebuilt_not_kept()
    {
        await using var rig = await StartAsync("gwreval3:");
        var key = await rig.SignInAsync();
        var first = (await rig.ResolveAsync(key))!;
        var protector = rig.Gateway.Services.GetRequiredService<SessionRecordProtector>();
        var stored = (await rig.Store.GetAsync(key.Handle, CancellationToken.None))!;
        Assert.True(await rig.Store.ReplaceAsync(key.Handle, protector.Protect(protector.Unprotect(stored.Record)!), CancellationToken.None));

        rig.Clock.Advance(TimeSpan.FromSeconds(31));
        var again = (await rig.ResolveAsync(key))!;

        Assert.NotSame(first, again);
        Assert.Equal(first.Record.Name, again.Record.Name);
    }

    [Theory]
    [InlineData("the user's", "gwreval4:")]
    [InlineData("everyone's", "gwreval5:")]
    public async Task A_revoke_all_mark_the_bus_never_delivered_refuses_the_session_once_its_cached_time_is_over_and_drops_it(string whose, string prefix)
    {
        await using var rig = await StartAsync(prefix);
        var key = await rig.SignInAsync();
        await AssertionAsync(rig, (await rig.ResolveAsync(key))!);

        // The mark lands in Redis, and no message reaches this replica.
        await rig.Store.MarkRevokedAsync(whose == "everyone's" ? null : key.UserTag, await rig.Store.NowAsync(CancellationToken.None), TimeSpan.FromHours(9),
            CancellationToken.None);

        rig.Clock.Advance(TimeSpan.FromSeconds(31));
        Assert.Null(await rig.ResolveAsync(key));
        Assert.Null(rig.Cache.Peek(key));
        Assert.Null(await rig.ResolveAsync(key));
    }

    [Fact]
    public async Task A_session_deleted_from_the_store_without_a_word_is_refused_once_its_cached_time_is_over_and_dropped()
    {
        await using var rig = await StartAsync("gwreval6:");
        var key = await rig.SignInAsync();
        Assert.NotNull(await rig.ResolveAsync(key));
        await DeleteRecordInRedisAsync("gwreval6:");

        // Served from the cache until its time is over (what CacheDuration promises), then the read finds it gone.
        Assert.NotNull(await rig.ResolveAsync(key));
        rig.Clock.Advance(TimeSpan.FromSeconds(31));
        Assert.Null(await rig.ResolveAsync(key));
        Assert.Null(rig.Cache.Peek(key));
    }

    [Theory]
    [InlineData("this session")]
    [InlineData("another session")]
    [InlineData("a change of trust")]
    public async Task A_revocation_that_lands_while_the_store_is_read_keeps_no_entry_from_that_read(string what)
    {
        await using var rig = await StartAsync($"gwreval7{what.Length}:");
        var key = await rig.SignInAsync();
        var other = await rig.SignInAsync("bob");
        Assert.NotNull(await rig.ResolveAsync(key));
        rig.Clock.Advance(TimeSpan.FromSeconds(31));
        using var metrics = new MetricsRecorder(rig.Gateway.Services, "gateway.session_cache.revalidations");

        var hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        rig.Store.Hold = hold;
        var resolving = rig.ResolveAsync(key).AsTask();
        await rig.Store.ReadDone.Task.WaitAsync(TimeSpan.FromSeconds(10));
        // The read saw the session live; something comes in before its answer is used. Another session's revocation
        // leaves this entry in the cache: only the generation the read began under tells that the answer is older.
        switch (what)
        {
            case "this session": rig.Cache.Apply(new SessionRevocation([key.ShortHash])); break;
            case "another session": rig.Cache.Apply(new SessionRevocation([other.ShortHash])); break;
            default: rig.Cache.Distrust("test"); rig.Cache.Trust("test"); break;
        }
        hold.SetResult();
        rig.Store.Hold = null;

        // As on any read that raced a revocation, this one request has what the store said when it read; nothing from
        // that read is kept, so the next request reads the store again.
        Assert.NotNull(await resolving);
        Assert.Null(rig.Cache.Peek(key));
        Assert.Equal(0, metrics.Sum("gateway.session_cache.revalidations"));
        var reads = rig.Store.Reads;
        Assert.NotNull(await rig.ResolveAsync(key));
        Assert.Equal(reads + 1, rig.Store.Reads);
    }

    [Fact]
    public async Task A_session_kept_by_a_read_still_ends_at_its_absolute_lifetime_inside_the_time_it_was_kept_for()
    {
        await using var rig = await StartAsync("gwreval9:");
        var key = await rig.SignInAsync(lifetime: TimeSpan.FromSeconds(40));
        var first = await rig.ResolveAsync(key);
        rig.Clock.Advance(TimeSpan.FromSeconds(31));
        Assert.Same(first, await rig.ResolveAsync(key));

        // Kept until 61 s, but the session ends at 40 s.
        rig.Clock.Advance(TimeSpan.FromSeconds(10));
        Assert.Null(await rig.ResolveAsync(key));
        Assert.Null(rig.Cache.Peek(key));
    }

    [Fact]
    public async Task A_session_whose_record_key_was_revoked_is_refused_once_its_cached_time_is_over_though_its_bytes_are_unchanged()
    {
        await using var rig = await StartAsync("gwreval10:");
        var key = await rig.SignInAsync();
        var first = (await rig.ResolveAsync(key))!;
        using var metrics = new MetricsRecorder(rig.Gateway.Services, "gateway.session_cache.revalidations");

        // After a compromise ops revoke every DataProtection key: the record in Redis is the same bytes, under a revoked key.
        rig.Gateway.Services.GetRequiredService<Microsoft.AspNetCore.DataProtection.KeyManagement.IKeyManager>()
            .RevokeAllKeys(DateTimeOffset.UtcNow.AddSeconds(1), "test: compromise");
        // The ring is rebuilt in the background (callers keep the one they had meanwhile): once it has been, the
        // revocation holds for every payload under those keys.
        var protector = rig.Gateway.Services.GetRequiredService<SessionRecordProtector>();
        var stored = (await rig.Store.GetAsync(key.Handle, CancellationToken.None))!;
        await Poll.Until(() => Task.FromResult<object?>(protector.StillReadable(stored.Record) ? null : true));

        rig.Clock.Advance(TimeSpan.FromSeconds(31));
        Assert.Null(await rig.ResolveAsync(key));
        Assert.Equal(0, metrics.Sum("gateway.session_cache.revalidations"));
        Assert.Null(rig.Cache.Peek(key));
    }

    [Fact]
    public async Task A_session_past_its_absolute_lifetime_is_never_kept_by_a_read()
    {
        await using var rig = await StartAsync("gwreval8:");
        var key = await rig.SignInAsync(lifetime: TimeSpan.FromSeconds(40));
        Assert.NotNull(await rig.ResolveAsync(key));

        rig.Clock.Advance(TimeSpan.FromSeconds(41));
        Assert.Null(await rig.ResolveAsync(key));
        Assert.Null(rig.Cache.Peek(key));
    }
}
