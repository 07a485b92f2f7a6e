using Gateway.Configuration;
using Gateway.Identity;
using Gateway.Login;
using Gateway.Sessions;
using Microsoft.Extensions.Options;

namespace Gateway.Tests.Security;

/// <summary>No input can make a replica stop caching or pin memory: the session cache evicts, the login limiter is bounded.</summary>
public sealed class ResourceExhaustionTests
{
    private static SessionRecord Record(string user, DateTimeOffset now) => StandaloneCache.Record(user, now);

    [Fact]
    public void A_cache_full_of_expired_entries_evicts_them_and_keeps_caching()
    {
        var clock = new FakeClock();
        var cache = StandaloneCache.Create(clock, maxEntries: 100);
        var now = clock.GetUtcNow();
        for (var i = 0; i < 100; i++)
            cache.Set(new CachedSession(SessionKey.NewFor($"u{i}"), Record($"u{i}", now), now, now.AddSeconds(30)), cache.Generation);
        Assert.Equal(100, cache.Count);

        clock.Advance(TimeSpan.FromMinutes(1));
        now = clock.GetUtcNow();
        var fresh = new CachedSession(SessionKey.NewFor("fresh"), Record("fresh", now), now, now.AddSeconds(30));
        cache.Set(fresh, cache.Generation);
        Assert.True(cache.TryGet(fresh.Key, now, out _));
        Assert.Equal(1, cache.Count);
    }

    [Fact]
    public void A_cache_full_of_live_entries_makes_room_and_stays_within_its_bound()
    {
        var clock = new FakeClock();
        var cache = StandaloneCache.Create(clock, maxEntries: 100);
        var now = clock.GetUtcNow();
        CachedSession last = null!;
        for (var i = 0; i < 1000; i++)
        {
            last = new CachedSession(SessionKey.NewFor($"u{i}"), Record($"u{i}", now), now, now.AddSeconds(30));
            cache.Set(last, cache.Generation);
            Assert.InRange(cache.Count, 1, 100);
        }
        Assert.True(cache.TryGet(last.Key, now, out _));
    }

    [Theory]
    [InlineData(300, 1)]
    [InlineData(1_000_000, 1)]
    public async Task Requests_filling_the_cache_at_once_never_pass_its_limits_by_more_than_a_twentieth_and_it_keeps_caching(int maxEntries, int megabytes)
    {
        // One eviction runs at a time; the requests that find the cache full meanwhile go on without waiting, and their
        // entries are cached only while the cache is within a twentieth of each limit. First bound by count (300
        // entries of ~2 KB in 1 MB), then by memory.
        var clock = new FakeClock();
        var cache = StandaloneCache.Create(clock, maxEntries: maxEntries, megabytes: megabytes);
        var now = clock.GetUtcNow();
        const int Threads = 8;
        const int PerThread = 3_000;
        var maxBytes = megabytes * 1024L * 1024L;
        var entryBytes = new CachedSession(SessionKey.NewFor("user-0-0000@example.org"), Record("user-0-0000@example.org", now) with { Roles = ["editor"] }, now, now.AddSeconds(30)).EstimatedBytes;
        long worstBytes = 0, worstCount = 0;
        var keys = new SessionKey[Threads][];
        var cachedAtOnce = new int[Threads];
        using var start = new Barrier(Threads);
        var workers = Enumerable.Range(0, Threads).Select(t => Task.Factory.StartNew(() =>
        {
            keys[t] = new SessionKey[PerThread];
            start.SignalAndWait();
            for (var i = 0; i < PerThread; i++)
            {
                var user = $"user-{t}-{i:0000}@example.org";
                var session = new CachedSession(SessionKey.NewFor(user), Record(user, now) with { Roles = ["editor"] }, now, now.AddSeconds(30));
                keys[t][i] = session.Key;
                cache.Set(session, cache.Generation);
                if (cache.Peek(session.Key) is not null) cachedAtOnce[t]++;
                // An older entry read again: once shed, waking it takes memory back.
                if (i >= 40) cache.TryGet(keys[t][i - 40], now, out _);
                InterlockedMax(ref worstBytes, cache.EstimatedBytes);
                InterlockedMax(ref worstCount, cache.Count);
            }
        }, TaskCreationOptions.LongRunning)).ToArray();
        await Task.WhenAll(workers);

        // Each of the other threads may have checked a limit just before one more entry went in or woke (a wake past
        // the twentieth waits for the eviction running).
        Assert.InRange(worstBytes, 1, maxBytes + maxBytes / 20 + Threads * entryBytes);
        Assert.InRange(worstCount, 1, maxEntries + maxEntries / 20 + Threads);
        Assert.True(worstCount > maxEntries * 9 / 10 || worstBytes > maxBytes * 9 / 10, $"the cache never filled: {worstCount} entries, {worstBytes} bytes");
        // It kept caching: a refused entry is one that came while another thread made room with the cache past the
        // slack. With 8 threads looping on misses (no I/O between, so a thread can be refused many times while the
        // evicting one waits for a core) a tenth of all entries is the floor asserted; and once the storm is over a
        // new entry is cached again.
        Assert.InRange(cachedAtOnce.Sum(), Threads * PerThread / 10, Threads * PerThread);
        var after = new CachedSession(SessionKey.NewFor("after@example.org"), Record("after@example.org", now), now, now.AddSeconds(30));
        cache.Set(after, cache.Generation);
        Assert.NotNull(cache.Peek(after.Key));

        static void InterlockedMax(ref long target, long value)
        {
            for (var seen = Interlocked.Read(ref target); value > seen; seen = Interlocked.Read(ref target))
                if (Interlocked.CompareExchange(ref target, value, seen) == seen) return;
        }
    }

    [Fact]
    public void A_cache_over_its_memory_budget_makes_room_and_stays_within_it()
    {
        var clock = new FakeClock();
        var cache = StandaloneCache.Create(clock, maxEntries: 1_000_000, megabytes: 1);
        var now = clock.GetUtcNow();
        CachedSession last = null!;
        for (var i = 0; i < 5000; i++)
        {
            last = new CachedSession(SessionKey.NewFor($"u{i}"), Record($"user-{i}@example.org", now) with { Roles = ["editor", "reviewer"] }, now, now.AddSeconds(30));
            cache.Set(last, cache.Generation);
            Assert.InRange(cache.EstimatedBytes, last.EstimatedBytes, 1024 * 1024);
        }
        Assert.True(cache.TryGet(last.Key, now, out _));
        // Idle entries are shed before any is dropped (SessionSheddingTests): at most as many as fit shed.
        Assert.InRange(cache.Count, 1024 * 1024 * 8 / 10 / last.EstimatedBytes, 1024 * 1024 / last.ShedBytes);
    }

    [Fact]
    public void The_cache_memory_estimate_returns_to_zero_when_every_entry_has_gone()
    {
        var clock = new FakeClock();
        var cache = StandaloneCache.Create(clock);
        var now = clock.GetUtcNow();
        var sessions = Enumerable.Range(0, 300).Select(i => new CachedSession(SessionKey.NewFor($"u{i}"), Record($"u{i}", now), now, now.AddSeconds(30))).ToList();
        foreach (var session in sessions) cache.Set(session, cache.Generation);
        // The same key set again replaces, and accounts once.
        cache.Set(new CachedSession(sessions[0].Key, Record("u0", now), now, now.AddSeconds(30)), cache.Generation);
        Assert.Equal(sessions.Sum(s => (long)s.EstimatedBytes), cache.EstimatedBytes);
        for (var i = 0; i < 100; i++) cache.Remove(sessions[i].Key);
        cache.Apply(new SessionRevocation([sessions[100].ShortHash]));
        Assert.Equal(sessions.Skip(101).Sum(s => (long)s.EstimatedBytes), cache.EstimatedBytes);
        cache.Distrust("test");
        Assert.Equal(0, cache.EstimatedBytes);
        Assert.Equal(0, cache.Count);
    }

    [Fact]
    public void A_revoke_all_leaves_nothing_of_the_dropped_sessions_reachable_through_the_eviction_hand()
    {
        // The hand is a dictionary enumerator: it holds the node it last showed (and, after a resize, the old table).
        // While distrusted nothing evicts, so a hand kept past a revoke-all would keep sessions the revocation ended.
        var clock = new FakeClock();
        var cache = StandaloneCache.Create(clock);
        var dropped = FillAndLook(cache, clock.GetUtcNow());
        cache.Distrust("test: revoke-all");

        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();

        Assert.Equal(0, cache.Count);
        Assert.All(dropped, session => Assert.False(session.IsAlive));
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static List<WeakReference> FillAndLook(SessionCache cache, DateTimeOffset now)
    {
        var sessions = Enumerable.Range(0, 10).Select(i => new CachedSession(SessionKey.NewFor($"u{i}"), Record($"u{i}", now), now, now.AddSeconds(30))).ToList();
        foreach (var session in sessions) cache.Set(session, cache.Generation);
        cache.ShedIdle();
        // Grown past its first table while the hand is partway through a turn.
        for (var i = 0; i < 2_000; i++) cache.Set(new CachedSession(SessionKey.NewFor($"v{i}"), Record($"v{i}", now), now, now.AddSeconds(30)), cache.Generation);
        return sessions.Select(s => new WeakReference(s)).ToList();
    }

    [Fact]
    public async Task Under_concurrent_reads_sheds_sets_and_revocations_the_cache_counts_exactly_what_it_holds()
    {
        var clock = new FakeClock();
        var memo = new VerifiedCookieMemo(1_000);
        var cache = StandaloneCache.Create(clock, maxEntries: 150, memo: memo);
        var now = clock.GetUtcNow();
        var keys = Enumerable.Range(0, 400).Select(i => SessionKey.NewFor($"u{i}")).ToArray();
        await Task.WhenAll(Enumerable.Range(0, 4).Select(worker => Task.Run(() =>
        {
            var random = new Random(worker);
            for (var i = 0; i < 20_000; i++)
            {
                var key = keys[random.Next(keys.Length)];
                switch (random.Next(12))
                {
                    case 0: cache.Remove(key); break;
                    case 1: cache.Apply(new SessionRevocation([key.ShortHash])); break;
                    case 2: cache.ShedIdle(); break;
                    case < 6:
                        // A read wakes a shed entry while others shed, replace or drop it.
                        if (cache.TryGet(key, now, out var session))
                        {
                            session.NoteCookie(memo.Remember(key.CookiePayload(), key));
                            session.Assertion = new SignedAssertion("aud", "kid", "assertion", now.AddMinutes(5));
                            _ = session.HeaderValues;
                        }
                        break;
                    default: cache.Set(new CachedSession(key, Record(key.UserTag, now), now, now.AddSeconds(30)), cache.Generation); break;
                }
            }
        })));

        var held = keys.Select(cache.Peek).Where(s => s is not null).ToList();
        Assert.Equal(held.Count, cache.Count);
        Assert.Equal(held.Sum(s => (long)s!.CountedBytes), cache.EstimatedBytes);
        Assert.All(held, s => Assert.NotEqual(CachedSession.Residency.Retired, s!.State));
        // While one worker makes room the others' entries go in up to a twentieth over the bound, and Sets that pass
        // that check together may each add one: overshot by at most that and the workers.
        Assert.InRange(cache.Count, 0, 150 + 150 / 20 + 4);
        cache.Distrust("test");
        Assert.Equal(0, cache.EstimatedBytes);
    }

    [Fact]
    public void The_verified_cookie_memo_starts_over_when_full()
    {
        var memo = new VerifiedCookieMemo(maxEntries: 3);
        var keys = Enumerable.Range(0, 4).Select(i => SessionKey.NewFor($"u{i}")).ToArray();
        for (var i = 0; i < 3; i++) memo.Remember($"cookie-{i}", keys[i]);
        for (var i = 0; i < 3; i++) Assert.True(memo.TryGet($"cookie-{i}", out var key, out _) && key == keys[i]);

        memo.Remember("cookie-3", keys[3]);

        for (var i = 0; i < 3; i++) Assert.False(memo.TryGet($"cookie-{i}", out _, out _));
        Assert.True(memo.TryGet("cookie-3", out var last, out _) && last == keys[3]);

        // Starting over reset its count: it fills to the bound again before the next start.
        memo.Remember("cookie-0", keys[0]);
        memo.Remember("cookie-1", keys[1]);
        Assert.True(memo.TryGet("cookie-3", out _, out _) && memo.TryGet("cookie-0", out _, out _) && memo.TryGet("cookie-1", out _, out _));
        memo.Remember("cookie-2", keys[2]);
        Assert.False(memo.TryGet("cookie-3", out _, out _));
        Assert.True(memo.TryGet("cookie-2", out _, out _));
    }

    [Fact]
    public void A_flood_of_distinct_user_names_cannot_grow_the_login_limiter_without_bound()
    {
        var limiter = new LoginAttemptLimiter(Options.Create(new LoginOptions()), TimeProvider.System);
        for (var i = 0; i < LoginAttemptLimiter.MaxTrackedKeys + 50_000; i++)
        {
            limiter.RecordFailure($"flood-{i}", $"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}");
            if (i % 10_000 == 0) Assert.InRange(limiter.TrackedKeys, 0, LoginAttemptLimiter.MaxTrackedKeys + 2);
        }
        Assert.InRange(limiter.TrackedKeys, 0, LoginAttemptLimiter.MaxTrackedKeys + 2);
    }

    [Fact]
    public void An_ipv6_client_rotating_addresses_within_its_64_shares_one_address_budget()
    {
        var options = new LoginOptions();
        var limiter = new LoginAttemptLimiter(Options.Create(options), TimeProvider.System);
        // One failure from each of as many addresses of one /64 as the budget allows, each for a different user name.
        for (var i = 0; i < options.AddressAttemptsPerMinute; i++)
            limiter.RecordFailure($"victim-{i}", $"2001:db8:1:2:{i:x}:{i * 7:x}::{i + 1:x}");
        Assert.True(limiter.IsBlocked("next-victim", "2001:db8:1:2:ffff:1:2:3"));
        // Another /64 has its own budget.
        Assert.False(limiter.IsBlocked("next-victim", "2001:db8:1:3::1"));
    }

    [Fact]
    public async Task A_success_gives_its_attempt_back_only_to_the_window_it_was_counted_in()
    {
        var clock = new FakeClock();
        var options = new LoginOptions { AttemptsPerMinute = 1 };
        var limiter = new LoginAttemptLimiter(Options.Create(options), clock);
        // An attempt begins just before its window ends and succeeds just after: in between, a failure opened a new window.
        var slow = await limiter.BeginAsync("victim", "192.0.2.1", default);
        Assert.NotNull(slow);
        clock.Advance(TimeSpan.FromSeconds(61));
        limiter.RecordFailure("victim", "192.0.2.2");
        Assert.True(limiter.IsBlocked("victim", "192.0.2.3"));

        await limiter.SucceededAsync(slow!, default);

        // The give-back did not erase the new window's failure.
        Assert.True(limiter.IsBlocked("victim", "192.0.2.3"));
    }

    [Theory]
    [InlineData("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64")]
    [InlineData("2001:DB8:1:2::1", "2001:db8:1:2::/64")]
    [InlineData("::ffff:192.0.2.7", "192.0.2.7")]
    [InlineData("192.0.2.7", "192.0.2.7")]
    [InlineData("not-an-address", "not-an-address")]
    public void The_login_limiter_counts_ipv6_clients_by_their_64_and_ipv4_by_address(string address, string block) =>
        Assert.Equal(block, LoginAttemptLimiter.AddressBlock(address));
}

/// <summary>The login form's limits, through the real gateway.</summary>
public sealed class LoginLimitTests(SharedRedis redis)
{
    private static async Task<HttpResponseMessage> PostLoginAsync(Browser browser, string user, string password, string? forwardedFor = null)
    {
        var fields = Browser.HiddenFields(await (await browser.NavigateAsync("/login")).Content.ReadAsStringAsync());
        fields["username"] = user;
        fields["password"] = password;
        var post = new HttpRequestMessage(HttpMethod.Post, "/login") { Content = new FormUrlEncodedContent(fields) };
        if (forwardedFor is not null) post.Headers.Add("X-Forwarded-For", forwardedFor);
        return await browser.Http.SendAsync(post);
    }

    [Fact]
    public async Task A_user_name_over_256_characters_gets_a_clear_400_and_a_huge_one_is_refused_with_413_before_it_is_read()
    {
        await using var gateway = await GatewayHost.StartAsync(new GatewayConfig().WithRedis(redis.Configuration));
        using var browser = gateway.Browser();
        var tooLong = await PostLoginAsync(browser, new string('a', 257), "x");
        Assert.Equal(HttpStatusCode.BadRequest, tooLong.StatusCode);
        Assert.Contains("at most 256 characters", await tooLong.Content.ReadAsStringAsync());

        var huge = await PostLoginAsync(browser, new string('a', 2 * 1024 * 1024), "x");
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, huge.StatusCode);
        Assert.Contains("request_too_large", await huge.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Failures_for_one_user_are_limited_across_addresses_and_successes_never_count()
    {
        await using var gateway = await GatewayHost.StartAsync(new GatewayConfig().WithRedis(redis.Configuration)
            .Set("Gateway:Forwarding:KnownProxies:0", "127.0.0.1").Set("Gateway:Login:AttemptsPerMinute", "5"));
        using var browser = gateway.Browser();
        for (var i = 0; i < 12; i++)
            Assert.Equal(HttpStatusCode.SeeOther, (await PostLoginAsync(browser, "alice", "alice-password", $"198.51.100.{i}")).StatusCode);
        for (var i = 0; i < 5; i++)
            Assert.Equal(HttpStatusCode.Unauthorized, (await PostLoginAsync(browser, "alice", "wrong", $"203.0.113.{i}")).StatusCode);
        // A sixth address, and even the right password: alice is limited for the rest of the minute.
        Assert.Equal(HttpStatusCode.TooManyRequests, (await PostLoginAsync(browser, "alice", "alice-password", "203.0.113.99")).StatusCode);
        Assert.Equal(HttpStatusCode.SeeOther, (await PostLoginAsync(browser, "admin", "admin-password", "203.0.113.99")).StatusCode);
    }

    [Fact]
    public async Task Failures_from_one_address_are_limited_across_user_names()
    {
        await using var gateway = await GatewayHost.StartAsync(new GatewayConfig().WithRedis(redis.Configuration)
            .Set("Gateway:Forwarding:KnownProxies:0", "127.0.0.1").Set("Gateway:Login:AddressAttemptsPerMinute", "4"));
        using var browser = gateway.Browser();
        for (var i = 0; i < 4; i++)
            Assert.Equal(HttpStatusCode.Unauthorized, (await PostLoginAsync(browser, $"guess-{i}", "wrong", "192.0.2.7")).StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await PostLoginAsync(browser, "alice", "alice-password", "192.0.2.7")).StatusCode);
        Assert.Equal(HttpStatusCode.SeeOther, (await PostLoginAsync(browser, "alice", "alice-password", "192.0.2.8")).StatusCode);
    }

    [Fact]
    public async Task Failures_for_one_user_are_limited_across_replicas_not_per_replica()
    {
        var config = new GatewayConfig().WithRedis(redis.Configuration).Set("Gateway:Login:AttemptsPerMinute", "4");
        await using var a = await GatewayHost.StartAsync(config);
        await using var b = await GatewayHost.StartAsync(config);
        using var onA = a.Browser();
        using var onB = b.Browser();
        // Two failures on each replica: four in all, the limit, though neither replica saw more than two.
        for (var i = 0; i < 2; i++)
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await PostLoginAsync(onA, "alice", "wrong")).StatusCode);
            Assert.Equal(HttpStatusCode.Unauthorized, (await PostLoginAsync(onB, "alice", "wrong")).StatusCode);
        }
        Assert.Equal(HttpStatusCode.TooManyRequests, (await PostLoginAsync(onA, "alice", "alice-password")).StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await PostLoginAsync(onB, "alice", "alice-password")).StatusCode);
        // Nothing was stored under the user name itself: only hashes.
        await using var direct = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(redis.Configuration + ",allowAdmin=true");
        var server = direct.GetServer(direct.GetEndPoints()[0]);
        Assert.DoesNotContain(server.Keys(pattern: config.Settings["Gateway:Redis:KeyPrefix"] + "login:*"), k => k.ToString().Contains("alice", StringComparison.Ordinal));
    }

    /// <summary>Forms (with their tokens) fetched first, then every guess posted at once: none is judged before all are counted.</summary>
    private static async Task<List<HttpStatusCode>> ParallelGuessesAsync(IReadOnlyList<Browser> browsers, int guesses)
    {
        var posts = new List<(Browser Browser, Dictionary<string, string> Fields)>();
        for (var i = 0; i < guesses; i++)
        {
            var browser = browsers[i % browsers.Count];
            var fields = Browser.HiddenFields(await (await browser.NavigateAsync("/login")).Content.ReadAsStringAsync());
            fields["username"] = "alice";
            fields["password"] = $"guess-{i}";
            posts.Add((browser, fields));
        }
        using var start = new SemaphoreSlim(0);
        var sent = posts.Select(async p =>
        {
            await start.WaitAsync();
            return (await p.Browser.Http.PostAsync("/login", new FormUrlEncodedContent(p.Fields))).StatusCode;
        }).ToList();
        start.Release(guesses);
        return [.. await Task.WhenAll(sent)];
    }

    [Fact]
    public async Task Parallel_guesses_get_exactly_the_limit_through_on_one_replica()
    {
        await using var gateway = await GatewayHost.StartAsync(new GatewayConfig().WithRedis(redis.Configuration).Set("Gateway:Login:AttemptsPerMinute", "3"));
        var browsers = Enumerable.Range(0, 8).Select(_ => gateway.Browser()).ToList();
        var answers = await ParallelGuessesAsync(browsers, 40);
        foreach (var browser in browsers) browser.Dispose();
        Assert.Equal(3, answers.Count(a => a == HttpStatusCode.Unauthorized));
        Assert.Equal(37, answers.Count(a => a == HttpStatusCode.TooManyRequests));
    }

    [Fact]
    public async Task Parallel_guesses_spread_over_two_replicas_get_exactly_the_limit_through_in_all()
    {
        var config = new GatewayConfig().WithRedis(redis.Configuration).Set("Gateway:Login:AttemptsPerMinute", "4");
        await using var a = await GatewayHost.StartAsync(config);
        await using var b = await GatewayHost.StartAsync(config);
        var browsers = Enumerable.Range(0, 8).Select(i => i % 2 == 0 ? a.Browser() : b.Browser()).ToList();
        var answers = await ParallelGuessesAsync(browsers, 40);
        foreach (var browser in browsers) browser.Dispose();
        Assert.Equal(4, answers.Count(x => x == HttpStatusCode.Unauthorized));
        Assert.Equal(36, answers.Count(x => x == HttpStatusCode.TooManyRequests));
        // Refused attempts gave back what they took: the shared count is the four failures, not forty.
        await using var direct = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(redis.Configuration + ",allowAdmin=true");
        var server = direct.GetServer(direct.GetEndPoints()[0]);
        var userCounter = server.Keys(pattern: config.Settings["Gateway:Redis:KeyPrefix"] + "login:u:*").Single();
        Assert.StartsWith("4|", (string?)await direct.GetDatabase().StringGetAsync(userCounter));
    }

    [Fact]
    public async Task A_shared_give_back_lands_only_in_the_window_it_was_counted_in_and_a_key_at_its_limit_counts_nothing()
    {
        await using var gateway = await GatewayHost.StartAsync(new GatewayConfig().WithRedis(redis.Configuration));
        var store = gateway.Services.GetRequiredService<ILoginAttemptStore>();
        string[] keys = ["u:window-" + Guid.NewGuid().ToString("N")];
        var first = (await store.TakeAsync(keys, [2], TimeSpan.FromMilliseconds(300), default))[0];
        Assert.Equal(1, first.Count);
        await Task.Delay(400);
        var second = (await store.TakeAsync(keys, [2], TimeSpan.FromMilliseconds(60_000), default))[0];
        Assert.Equal(1, second.Count);
        Assert.NotEqual(first.Window, second.Window);

        // The first attempt's give-back arrives late: the new window keeps its count.
        await store.GiveBackAsync(keys, [first.Window], default);
        Assert.Equal(2, (await store.TakeAsync(keys, [2], TimeSpan.FromMinutes(1), default))[0].Count);
        // At the limit: refused without counting, so nothing needs giving back.
        var refused = (await store.TakeAsync(keys, [2], TimeSpan.FromMinutes(1), default))[0];
        Assert.Equal((3L, 0L), (refused.Count, refused.Window));
        await store.GiveBackAsync(keys, [second.Window], default);
        Assert.Equal(2, (await store.TakeAsync(keys, [2], TimeSpan.FromMinutes(1), default))[0].Count);
    }

    [Fact]
    public async Task With_redis_down_each_replica_still_holds_the_limit_itself()
    {
        await using var own = await RedisServer.StartAsync();
        await using var gateway = await GatewayHost.StartAsync(new GatewayConfig().WithRedis(own.Configuration).Set("Gateway:Login:AttemptsPerMinute", "3"));
        using var browser = gateway.Browser();
        // The form (and its token) while Redis is up; the guesses after it went down.
        var fields = Browser.HiddenFields(await (await browser.NavigateAsync("/login")).Content.ReadAsStringAsync());
        await own.StopAsync();
        async Task<HttpStatusCode> GuessAsync(string password)
        {
            var form = new Dictionary<string, string>(fields) { ["username"] = "alice", ["password"] = password };
            return (await browser.Http.PostAsync("/login", new FormUrlEncodedContent(form))).StatusCode;
        }
        for (var i = 0; i < 3; i++) Assert.Equal(HttpStatusCode.Unauthorized, await GuessAsync("wrong"));
        Assert.Equal(HttpStatusCode.TooManyRequests, await GuessAsync("wrong"));
    }

    [Fact]
    public async Task A_login_counter_a_redis_writer_set_to_text_never_makes_login_a_500()
    {
        var config = new GatewayConfig().WithRedis(redis.Configuration);
        await using var gateway = await GatewayHost.StartAsync(config);
        using var browser = gateway.Browser();
        Assert.Equal(HttpStatusCode.Unauthorized, (await PostLoginAsync(browser, "alice", "wrong")).StatusCode);
        await using var writer = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(redis.Configuration + ",allowAdmin=true");
        foreach (var key in writer.GetServer(writer.GetEndPoints()[0]).Keys(pattern: config.Settings["Gateway:Redis:KeyPrefix"] + "login:*"))
            await writer.GetDatabase().StringSetAsync(key, "not a number");
        Assert.Equal(HttpStatusCode.Unauthorized, (await PostLoginAsync(browser, "alice", "wrong")).StatusCode);
        Assert.Equal(HttpStatusCode.SeeOther, (await PostLoginAsync(browser, "alice", "alice-password")).StatusCode);
    }
}
