using Gateway.Sessions;
using StackExchange.Redis;

namespace Gateway.Tests.Redis;

/// <summary>The per-user index in Redis: it lives as long as its longest session, drops dead members, and no script blocks Redis on a huge user.</summary>
public sealed class SessionIndexTests
{
    [Fact]
    public async Task The_index_lives_as_long_as_a_session_could_and_a_login_prunes_members_that_expired()
    {
        await using var redis = await RedisServer.StartAsync();
        var config = new GatewayConfig().WithRedis(redis.Configuration).Set("Gateway:Session:AbsoluteLifetime", "03:00:00");
        await using var host = await GatewayHost.StartAsync(config);
        var store = host.Services.GetRequiredService<ISessionStore>();
        var prefix = config.Settings["Gateway:Redis:KeyPrefix"];
        var user = SessionKey.TagFor("pruned-user");
        var index = $"{prefix}{{u:{user}}}:idx";
        await using var mux = await redis.ConnectAsync();
        var db = mux.GetDatabase();

        var longLived = SessionKey.NewFor("pruned-user").Handle;
        await store.CreateAsync(longLived, [1], TimeSpan.FromMinutes(20), default);
        // Three seconds: the five logins finish long before the first expires, even on a busy machine.
        var shortLived = new List<SessionHandle>();
        for (var i = 0; i < 5; i++)
        {
            shortLived.Add(SessionKey.NewFor("pruned-user").Handle);
            await store.CreateAsync(shortLived[^1], [1], TimeSpan.FromSeconds(3), default);
        }
        Assert.Equal(6, await db.SortedSetLengthAsync(index));
        // A slide moves an entry, never the index's own TTL: the index lives as long as its newest session could.
        Assert.InRange((await db.KeyTimeToLiveAsync(index))!.Value, TimeSpan.FromHours(2.99), TimeSpan.FromHours(3));

        // The sessions expired in Redis; the next login prunes their entries (scored by when each expires).
        await Poll.Until(async () => await store.GetAsync(shortLived[^1], default) is null ? (bool?)true : null, timeoutMs: 15_000);
        await Task.Delay(100);
        await store.CreateAsync(SessionKey.NewFor("pruned-user").Handle, [1], TimeSpan.FromMinutes(5), default);
        Assert.Equal(2, await db.SortedSetLengthAsync(index));
        Assert.Equal(2, (await store.ListByUserAsync(user, 100, default)).Count);
    }

    /// <summary>A gateway's own Redis session store on a redis-server of its own, and a direct connection to look at the keys.</summary>
    private sealed class StoreRig : IAsyncDisposable
    {
        public required RedisServer Redis { get; init; }
        public required GatewayHost Host { get; init; }
        public required ConnectionMultiplexer Direct { get; init; }
        public required string Prefix { get; init; }
        public ISessionStore Store => Host.Services.GetRequiredService<ISessionStore>();
        public IDatabase Db => Direct.GetDatabase();

        public static async Task<StoreRig> StartAsync()
        {
            var redis = await RedisServer.StartAsync();
            var config = new GatewayConfig().WithRedis(redis.Configuration);
            return new StoreRig { Redis = redis, Host = await GatewayHost.StartAsync(config), Direct = await redis.ConnectAsync(), Prefix = config.Settings["Gateway:Redis:KeyPrefix"]! };
        }

        public string RecordOf(SessionHandle session) => $"{Prefix}{{u:{session.UserTag}}}:s:{session.Hash}";
        public string IndexOf(SessionHandle session) => $"{Prefix}{{u:{session.UserTag}}}:idx";

        public async ValueTask DisposeAsync()
        {
            await Direct.DisposeAsync();
            await Host.DisposeAsync();
            await Redis.DisposeAsync();
        }
    }

    [Fact]
    public async Task One_slide_call_for_several_users_answers_each_session_in_order_slides_the_live_and_unlists_the_gone()
    {
        await using var rig = await StoreRig.StartAsync();
        var store = rig.Store;
        var first = SessionKey.NewFor("batch-user-1").Handle;
        var vanished = SessionKey.NewFor("batch-user-1").Handle;
        var second = SessionKey.NewFor("batch-user-2").Handle;
        foreach (var session in new[] { first, vanished, second }) await store.CreateAsync(session, [1], TimeSpan.FromMinutes(1), default);
        // Gone from Redis behind the index's back (expired, say): its entry is still listed.
        await rig.Db.KeyDeleteAsync(rig.RecordOf(vanished));
        var never = SessionKey.NewFor("batch-user-2").Handle;

        var slid = await store.TouchAsync(
            [new(first, TimeSpan.FromMinutes(10)), new(vanished, TimeSpan.FromMinutes(10)), new(second, TimeSpan.FromMinutes(15)), new(never, TimeSpan.FromMinutes(10))], default);

        Assert.Equal([SlideOutcome.Slid, SlideOutcome.Gone, SlideOutcome.Slid, SlideOutcome.Gone], slid);
        var now = DateTimeOffset.UtcNow;
        foreach (var (session, minutes) in new[] { (first, 10), (second, 15) })
        {
            Assert.InRange((await rig.Db.KeyTimeToLiveAsync(rig.RecordOf(session)))!.Value, TimeSpan.FromMinutes(minutes - 0.1), TimeSpan.FromMinutes(minutes));
            Assert.InRange(await rig.Db.SortedSetScoreAsync(rig.IndexOf(session), session.Hash) ?? 0,
                now.AddMinutes(minutes - 0.1).ToUnixTimeMilliseconds(), now.AddMinutes(minutes).ToUnixTimeMilliseconds() + 1);
        }
        Assert.Null(await rig.Db.SortedSetScoreAsync(rig.IndexOf(vanished), vanished.Hash));
        Assert.Null(await rig.Db.SortedSetScoreAsync(rig.IndexOf(never), never.Hash));
        Assert.Equal([first], (await store.ListByUserAsync(first.UserTag, 100, default)).Select(s => s.Handle));
        Assert.Empty(await store.TouchAsync([], default));
    }

    [Fact]
    public async Task A_slide_call_answers_each_session_by_its_own_commands_and_fails_whole_only_when_redis_is_down()
    {
        await using var rig = await StoreRig.StartAsync();
        var store = rig.Store;
        var live = SessionKey.NewFor("outcome-user-1").Handle;
        var broken = SessionKey.NewFor("outcome-user-2").Handle;
        var goneBroken = SessionKey.NewFor("outcome-user-3").Handle;
        var gone = SessionKey.NewFor("outcome-user-1").Handle;
        foreach (var session in new[] { live, broken, goneBroken, gone }) await store.CreateAsync(session, [1], TimeSpan.FromMinutes(1), default);
        // Two users' indexes are not sorted sets any more, so each ZADD (and ZREM) there fails with WRONGTYPE while the
        // commands beside it in the same pipeline succeed: what one failing shard of a cluster does to a batch.
        foreach (var session in new[] { broken, goneBroken })
        {
            await rig.Db.KeyDeleteAsync(rig.IndexOf(session));
            await rig.Db.StringSetAsync(rig.IndexOf(session), "not an index");
        }
        await rig.Db.KeyDeleteAsync(rig.RecordOf(goneBroken));
        await rig.Db.KeyDeleteAsync(rig.RecordOf(gone));

        var slid = await store.TouchAsync([.. new[] { live, broken, goneBroken, gone }.Select(s => new SessionSlide(s, TimeSpan.FromMinutes(10)))], default);

        // Slid; failed (its record slid, its index entry did not move, so it is slid again); gone, whatever its index did,
        // and its failed unlisting leaves the answers as they are; gone, and its entry unlisted in the same round trip.
        Assert.Equal([SlideOutcome.Slid, SlideOutcome.Failed, SlideOutcome.Gone, SlideOutcome.Gone], slid);
        Assert.InRange((await rig.Db.KeyTimeToLiveAsync(rig.RecordOf(live)))!.Value, TimeSpan.FromMinutes(9.9), TimeSpan.FromMinutes(10));
        Assert.NotNull(await rig.Db.SortedSetScoreAsync(rig.IndexOf(live), live.Hash));
        Assert.Null(await rig.Db.SortedSetScoreAsync(rig.IndexOf(gone), gone.Hash));

        // Nothing answers, Redis hanging or gone: the whole call fails as the store being down, no session answered.
        await rig.Redis.PauseAsync();
        await Assert.ThrowsAsync<StoreUnavailableException>(() => store.TouchAsync([new(live, TimeSpan.FromMinutes(10)), new(gone, TimeSpan.FromMinutes(10))], default));
        await rig.Redis.ResumeAsync();
        await rig.Redis.StopAsync();
        await Assert.ThrowsAsync<StoreUnavailableException>(() => store.TouchAsync([new(live, TimeSpan.FromMinutes(10)), new(gone, TimeSpan.FromMinutes(10))], default));
    }

    [Fact]
    public async Task Reads_ahead_that_fail_never_open_the_requests_breaker_and_none_is_sent_while_it_is_open()
    {
        await using var redis = await RedisServer.StartAsync();
        // A long break, so the open circuit is still open when the test looks.
        var config = new GatewayConfig().WithRedis(redis.Configuration).Set("Gateway:Redis:BreakDuration", "00:00:30");
        await using var host = await GatewayHost.StartAsync(config);
        var store = host.Services.GetRequiredService<ISessionStore>();
        var breaker = host.Services.GetRequiredService<Gateway.Redis.RedisCalls>().CircuitState;
        var session = SessionKey.NewFor("breaker-user").Handle;
        await store.CreateAsync(session, [1], TimeSpan.FromMinutes(5), default);

        // Redis hangs: batch reads fail, each one attempt, and the breaker the requests share stays closed.
        await redis.PauseAsync();
        for (var i = 0; i < 6; i++) await Assert.ThrowsAsync<StoreUnavailableException>(() => store.GetEachAsync([session], default));
        Assert.Equal(Polly.CircuitBreaker.CircuitState.Closed, breaker.CircuitState);
        // Requests' reads failing open it; from then on a batch read is not even sent, though Redis answers again.
        for (var i = 0; i < 4; i++) await Assert.ThrowsAsync<StoreUnavailableException>(() => store.GetAsync(session, default));
        Assert.NotEqual(Polly.CircuitBreaker.CircuitState.Closed, breaker.CircuitState);
        await redis.ResumeAsync();
        var refused = await Assert.ThrowsAsync<StoreUnavailableException>(() => store.GetEachAsync([session], default));
        Assert.Contains("not attempted", refused.Message);
    }

    [Fact]
    public async Task Last_used_is_read_from_the_index_entry_a_slide_moves_and_the_list_puts_the_least_recently_used_first()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var host = await GatewayHost.StartAsync(new GatewayConfig().WithRedis(redis.Configuration));
        var store = host.Services.GetRequiredService<ISessionStore>();
        var user = SessionKey.TagFor("listed-user");
        var recent = SessionKey.NewFor("listed-user").Handle;
        var earlier = SessionKey.NewFor("listed-user").Handle;
        await store.CreateAsync(recent, [1], TimeSpan.FromMinutes(20), default);
        await store.CreateAsync(earlier, [1], TimeSpan.FromMinutes(20), default);
        // Slid 5 minutes ago, its index entry where that slide put it: 15 of its 20 idle minutes are left.
        await using var mux = await redis.ConnectAsync();
        var prefix = host.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<Gateway.Configuration.GatewayOptions>>().Value.Redis.KeyPrefix;
        await mux.GetDatabase().SortedSetAddAsync($"{prefix}{{u:{user}}}:idx", earlier.Hash, DateTimeOffset.UtcNow.AddMinutes(15).ToUnixTimeMilliseconds());
        // A slide never moves an entry back (GT), and never adds one for a session that ended (XX).
        var gone = SessionKey.NewFor("listed-user").Handle;
        var slid = await store.TouchAsync([new(recent, TimeSpan.FromMinutes(1)), new(gone, TimeSpan.FromMinutes(20))], default);
        Assert.Equal([SlideOutcome.Slid, SlideOutcome.Gone], slid);

        var listed = await store.ListByUserAsync(user, 100, default);

        Assert.Equal([earlier, recent], listed.Select(l => l.Handle));
        var now = DateTimeOffset.UtcNow;
        Assert.InRange(listed[0].LastUsed, now.AddMinutes(-5).AddSeconds(-5), now.AddMinutes(-5).AddSeconds(5));
        Assert.InRange(listed[1].LastUsed, now.AddSeconds(-5), now.AddSeconds(1));
    }

    [Fact]
    public async Task A_session_of_the_previous_layout_is_listed_slid_and_ended_with_its_last_used_entry()
    {
        await using var redis = await RedisServer.StartAsync();
        var config = new GatewayConfig().WithRedis(redis.Configuration);
        await using var host = await GatewayHost.StartAsync(config);
        var store = host.Services.GetRequiredService<ISessionStore>();
        var prefix = config.Settings["Gateway:Redis:KeyPrefix"];
        var user = SessionKey.TagFor("upgraded-user");
        await using var mux = await redis.ConnectAsync();
        var db = mux.GetDatabase();
        // As the previous version left it: scored by its expiry, its "last used" in the seen hash, and an index whose TTL
        // is that expiry (the previous version kept the index only as long as its longest member).
        var old = SessionKey.NewFor("upgraded-user").Handle;
        var expiry = DateTimeOffset.UtcNow.AddMinutes(19);
        var index = $"{prefix}{{u:{user}}}:idx";
        await db.StringSetAsync($"{prefix}{{u:{user}}}:s:{old.Hash}", new byte[] { 1 }, TimeSpan.FromMinutes(19));
        await db.SortedSetAddAsync(index, old.Hash, expiry.ToUnixTimeMilliseconds());
        await db.KeyExpireAsync(index, TimeSpan.FromMinutes(19));
        await db.HashSetAsync($"{prefix}{{u:{user}}}:seen", old.Hash, expiry.AddMinutes(-20).ToUnixTimeMilliseconds());

        // This version lists it with when it was last used, slides it (the entry moves), and a login keeps the index
        // as long as a session could live; the end takes the seen entry too.
        var listed = await store.ListByUserAsync(user, 100, default);
        Assert.InRange(Assert.Single(listed).LastUsed, expiry.AddMinutes(-20).AddSeconds(-2), expiry.AddMinutes(-20).AddSeconds(2));
        var slid = await store.TouchAsync([new(old, TimeSpan.FromMinutes(20))], default);
        Assert.Equal([SlideOutcome.Slid], slid);
        Assert.InRange(await db.SortedSetScoreAsync(index, old.Hash) ?? 0, DateTimeOffset.UtcNow.AddMinutes(19.9).ToUnixTimeMilliseconds(), DateTimeOffset.UtcNow.AddMinutes(20).ToUnixTimeMilliseconds());
        await store.CreateAsync(SessionKey.NewFor("upgraded-user").Handle, [1], TimeSpan.FromMinutes(20), default);
        Assert.InRange((await db.KeyTimeToLiveAsync(index))!.Value, TimeSpan.FromHours(7.99), TimeSpan.FromHours(8));
        Assert.Equal(2, (await store.ListByUserAsync(user, 100, default)).Count);
        Assert.NotNull(await store.TakeAsync(old, default));
        Assert.False(await db.HashExistsAsync($"{prefix}{{u:{user}}}:seen", old.Hash));
        Assert.Single(await store.ListByUserAsync(user, 100, default));
    }
}

/// <summary>A user with 100k sessions is revoked in bounded steps that never block Redis for others.</summary>
[Collection(nameof(ConcurrentRevocationTests))]
public sealed class HeavyUserRevocationTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Revoking_a_user_with_100k_sessions_runs_as_hundreds_of_bounded_scripts_never_one_that_blocks_redis()
    {
        await using var redis = await RedisServer.StartAsync();
        var config = new GatewayConfig().WithRedis(redis.Configuration).Set("Gateway:Redis:OperationTimeout", "00:00:10")
            // Tens of thousands of one user's sessions: far past the per-user cap a real user meets, on purpose.
            .Set("Gateway:Session:MaxPerUser", "1000000");
        await using var host = await GatewayHost.StartAsync(config);
        var store = host.Services.GetRequiredService<ISessionStore>();
        var sessions = host.Services.GetRequiredService<SessionManager>();
        const int count = 100_000;
        var now = DateTimeOffset.UtcNow;
        var record = new SessionRecord { UserId = "heavy-user", CreatedAt = now, AbsoluteExpiresAt = now.AddHours(1), Method = "dev" };
        for (var batch = 0; batch < count; batch += 2000)
            await Task.WhenAll(Enumerable.Range(0, 2000).Select(_ => sessions.CreateAsync(record, default)));

        await using var mux = await redis.ConnectAsync();
        var server = mux.GetServer(mux.GetEndPoints()[0]);
        // Log every command: what is asserted is the shape (the revocation's scripts each take a bounded batch, so there
        // are hundreds of them, where one whole-user script took about 250 ms at 100k before the index was batched); the
        // slowest command is reported, not asserted, since a loaded machine can pause Redis mid-command.
        await server.ExecuteAsync("CONFIG", "SET", "slowlog-log-slower-than", "0");
        await server.ExecuteAsync("CONFIG", "SET", "slowlog-max-len", "300000");
        await server.ExecuteAsync("SLOWLOG", "RESET");

        var listed = await sessions.ListUserAsync("heavy-user", default);
        var revoked = await sessions.RevokeUserAsync("heavy-user", "test", null, default);
        await store.CreateAsync(SessionKey.NewFor("heavy-user").Handle, [1], TimeSpan.FromHours(1), default);

        var entries = ((RedisResult[])(await server.ExecuteAsync("SLOWLOG", "GET", "300000"))!)
            .Select(e => (RedisResult[])e!).Select(f => (Micros: (long)f[2], Command: string.Join(' ', ((RedisResult[])f[3]!).Take(2).Select(a => a.ToString())))).ToList();
        var slowest = entries.MaxBy(e => e.Micros);
        var scripts = entries.Where(e => e.Command.StartsWith("EVAL", StringComparison.OrdinalIgnoreCase)).GroupBy(e => e.Command).MaxBy(g => g.Count())!;
        output.WriteLine($"{entries.Count} commands; slowest {slowest.Micros} us: {slowest.Command}; most used script {scripts.Count()} times, slowest {scripts.Max(e => e.Micros)} us");
        Assert.Equal(SessionManager.ListLimit, listed.Count);
        Assert.Equal(count, revoked);
        Assert.True(scripts.Count() >= count / 250, $"{scripts.Count()} calls of the busiest script for {count} sessions");
    }
}

/// <summary>Revoking all of a user's sessions misses none that a concurrent login created before it returned.</summary>
[Collection(nameof(ConcurrentRevocationTests))]
public sealed class ConcurrentRevocationTests
{
    [Fact]
    public async Task Sessions_created_while_a_revoke_all_runs_do_not_survive_it()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var host = await GatewayHost.StartAsync(new GatewayConfig().WithRedis(redis.Configuration).Set("Gateway:Redis:OperationTimeout", "00:00:10")
            // Tens of thousands of one user's sessions: far past the per-user cap a real user meets, on purpose.
            .Set("Gateway:Session:MaxPerUser", "1000000"));
        var sessions = host.Services.GetRequiredService<SessionManager>();
        SessionRecord Record() => new() { UserId = "racer", CreatedAt = DateTimeOffset.UtcNow, AbsoluteExpiresAt = DateTimeOffset.UtcNow.AddHours(1), Method = "dev" };
        for (var batch = 0; batch < 20_000; batch += 2000)
            await Task.WhenAll(Enumerable.Range(0, 2000).Select(_ => sessions.CreateAsync(Record(), default)));

        var revoke = sessions.RevokeUserAsync("racer", "test", null, default);
        // Logins that completed while the revoke was still running.
        var racing = new List<(SessionKey Key, DateTimeOffset CreatedAt)>();
        while (!revoke.IsCompleted)
        {
            var record = Record();
            var key = await sessions.CreateAsync(record, default);
            if (!revoke.IsCompleted) racing.Add((key, record.CreatedAt));
        }
        await revoke;

        // The revocation takes effect at the mark it leaves when done: every session created before it is dead,
        // including those added to the index after the batches had passed. A login that began after the mark is new.
        await using var mux = await redis.ConnectAsync();
        var prefix = host.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<Gateway.Configuration.GatewayOptions>>().Value.Redis.KeyPrefix;
        var mark = DateTimeOffset.FromUnixTimeMilliseconds((long)await mux.GetDatabase().StringGetAsync($"{prefix}{{u:{SessionKey.TagFor("racer")}}}:revoked"));
        // How many racing logins fall after the mark depends on how soon this loop sees the revoke complete, which a
        // busy machine delays (it once asserted at most two after the mark and failed 1 in 4 runs under load): the test
        // asserts what each side of the mark must be, and that enough fell before it to have raced the batches.
        var before = racing.Where(r => r.CreatedAt <= mark).ToList();
        Assert.True(before.Count >= 5, $"{before.Count} of {racing.Count} racing logins began before the mark");
        foreach (var (key, _) in before) Assert.Null(await sessions.ResolveAsync(key, default));
        // Clear of the mark's millisecond: a login that began after the revocation took effect is a new session.
        foreach (var (key, _) in racing.Where(r => r.CreatedAt > mark.AddMilliseconds(1))) Assert.NotNull(await sessions.ResolveAsync(key, default));
        await Task.Delay(5);
        Assert.NotNull(await sessions.ResolveAsync(await sessions.CreateAsync(Record(), default), default));
    }
}

/// <summary>
/// Tens of thousands of sign-ins two thousand at a time, in the test process: alone, after the parallel tests, since
/// they share its thread pool, its Redis reply threads and its heap with every other gateway under test.
/// </summary>
[CollectionDefinition(nameof(ConcurrentRevocationTests), DisableParallelization = true)]
public sealed class HeavyRevocationTestsRunAlone;
