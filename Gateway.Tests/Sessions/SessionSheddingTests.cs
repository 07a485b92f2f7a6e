using System.Diagnostics;
using Gateway.Identity;
using Gateway.Sessions;
using Microsoft.AspNetCore.Http;

namespace Gateway.Tests.Sessions;

/// <summary>
/// A full cache sheds what idle sessions can rebuild before it drops any: the shed session keeps its identity and a
/// seal of its assertion, wakes whole on its next request without the store or a signature, and every revocation
/// still ends it.
/// </summary>
public sealed class SessionSheddingTests(SharedRedis redis, ITestOutputHelper output)
{
    private static SessionRecord Record(string user, DateTimeOffset now) =>
        new() { UserId = user, Email = $"{user}@example.org", Name = $"User {user}", Roles = ["editor", "staff"], CreatedAt = now, AbsoluteExpiresAt = now.AddHours(8), Method = "dev" };

    private static long Counted(IEnumerable<CachedSession?> held) => held.Sum(s => (long)s!.CountedBytes);

    [Fact]
    public void A_session_read_since_the_last_look_keeps_everything_and_an_idle_one_is_shed()
    {
        var clock = new FakeClock();
        var cache = StandaloneCache.Create(clock);
        var now = clock.GetUtcNow();
        var read = new CachedSession(SessionKey.NewFor("read"), Record("read", now), now, now.AddSeconds(30));
        var idle = new CachedSession(SessionKey.NewFor("idle"), Record("idle", now), now, now.AddSeconds(30));
        foreach (var session in new[] { read, idle })
        {
            cache.Set(session, cache.Generation);
            session.Assertion = new SignedAssertion("aud", "kid", "assertion", now.AddMinutes(5));
            _ = session.HeaderValues;
        }
        var readPrincipal = read.Principal;
        var idleHeaders = idle.HeaderValues;
        var (readAssertion, readHeaders) = (read.Assertion, read.HeaderValues);

        // The first look marks both idle; a read in between gives one its second chance.
        Assert.Equal(0, cache.ShedIdle());
        Assert.True(cache.TryGet(read.Key, now, out _));
        Assert.Equal(1, cache.ShedIdle());

        Assert.Equal(CachedSession.Residency.Idle, read.State);
        Assert.Same(readAssertion, read.Assertion);
        Assert.Same(readHeaders, read.HeaderValues);
        Assert.Same(readPrincipal, read.Principal);
        Assert.Equal(CachedSession.Residency.Shed, idle.State);
        Assert.Null(idle.Assertion);
        Assert.NotSame(idleHeaders, idle.HeaderValues);
        Assert.Equal(idleHeaders, idle.HeaderValues);
        Assert.Equal(read.EstimatedBytes + (long)idle.ShedBytes, cache.EstimatedBytes);
        Assert.InRange(idle.ShedBytes, 1, idle.EstimatedBytes / 2);
    }

    [Fact]
    public void A_full_cache_drops_entries_past_their_cached_time_before_it_sheds_fresh_ones_and_keeps_the_rest_for_a_read()
    {
        var clock = new FakeClock();
        var cache = StandaloneCache.Create(clock, megabytes: 1);
        var stored = "a stored record"u8.ToArray();
        CachedSession Entry(string user)
        {
            var now = clock.GetUtcNow();
            var entry = new CachedSession(SessionKey.NewFor(user), Record(user, now), now, now.AddSeconds(30), stored);
            cache.Set(entry, cache.Generation);
            return entry;
        }
        var old = Enumerable.Range(0, 200).Select(i => Entry($"old{i}")).ToList();
        clock.Advance(TimeSpan.FromSeconds(31));

        // Fresh entries until the budget is past: the first eviction makes its room from the 200 past their time.
        var fresh = new List<CachedSession>();
        while (cache.Count == old.Count + fresh.Count) fresh.Add(Entry($"fresh{fresh.Count}"));

        Assert.All(fresh, f => Assert.Equal(CachedSession.Residency.Used, f.State));
        Assert.All(fresh, f => Assert.Same(f, cache.Peek(f.Key)));
        var kept = old.Count(o => cache.Peek(o.Key) == o);
        // Only as many as the room needed went: the others stay for a read that finds their record unchanged.
        Assert.InRange(kept, 1, old.Count - 1);
        Assert.True(cache.EstimatedBytes <= 1024 * 1024, $"{cache.EstimatedBytes} bytes counted");
    }

    [Fact]
    public void A_shed_session_wakes_from_the_cache_with_the_same_identity_and_is_counted_whole_again()
    {
        var clock = new FakeClock();
        var cache = StandaloneCache.Create(clock);
        var now = clock.GetUtcNow();
        var session = new CachedSession(SessionKey.NewFor("u1"), Record("u1", now), now, now.AddSeconds(30));
        cache.Set(session, cache.Generation);
        var before = session.Principal;
        cache.ShedIdle();
        cache.ShedIdle();
        Assert.Equal(CachedSession.Residency.Shed, session.State);

        Assert.True(cache.TryGet(session.Key, now, out var woken));
        Assert.Same(session, woken);
        Assert.Equal(CachedSession.Residency.Used, woken.State);
        Assert.Equal(woken.EstimatedBytes, cache.EstimatedBytes);
        // A new principal over the same record: the same user, the same roles, nothing else.
        Assert.NotSame(before, woken.Principal);
        Assert.True(woken.Principal.Identity!.IsAuthenticated);
        Assert.Equal("User u1", woken.Principal.Identity.Name);
        Assert.True(woken.Principal.IsInRole("editor") && woken.Principal.IsInRole("staff") && !woken.Principal.IsInRole("admin"));
        Assert.Equal(["sub:u1", "amr:dev", "email:u1@example.org", "name:User u1", "role:editor", "role:staff"],
            woken.Principal.Claims.Select(c => $"{c.Type}:{c.Value}"));
        Assert.Same(woken, woken.Feature.Session);
    }

    [Fact]
    public void Shedding_evicting_or_revoking_a_session_makes_the_memo_forget_its_cookie_while_expiry_leaves_it()
    {
        var clock = new FakeClock();
        var memo = new VerifiedCookieMemo(100);
        var cache = StandaloneCache.Create(clock, maxEntries: 10, memo: memo);
        var now = clock.GetUtcNow();
        var sessions = Enumerable.Range(0, 10).Select(i => new CachedSession(SessionKey.NewFor($"u{i}"), Record($"u{i}", now), now, now.AddSeconds(30 + i))).ToArray();
        for (var i = 0; i < sessions.Length; i++)
        {
            cache.Set(sessions[i], cache.Generation);
            Assert.True(sessions[i].NoteCookie(memo.Remember($"cookie-{i}", sessions[i].Key)));
        }
        // Noted once: a later request's copy changes nothing.
        Assert.False(sessions[0].NoteCookie(memo.Remember("cookie-0", sessions[0].Key)));
        Assert.Equal(10, memo.Count);

        cache.ShedIdle();
        Assert.True(cache.TryGet(sessions[0].Key, now, out _));
        Assert.Equal(9, cache.ShedIdle());
        Assert.True(memo.TryGet("cookie-0", out var kept, out _) && kept == sessions[0].Key);
        for (var i = 1; i < 10; i++) Assert.False(memo.TryGet($"cookie-{i}", out _, out _));
        Assert.Equal(1, memo.Count);

        // Past its cached time the entry is dropped on its next lookup; the cookie still verifies, so the memo keeps it.
        clock.Advance(TimeSpan.FromSeconds(31));
        Assert.False(cache.TryGet(sessions[0].Key, clock.GetUtcNow(), out _));
        Assert.True(memo.TryGet("cookie-0", out _, out _));

        // Full by count: an entry dropped for room takes its cookie out of the memo with it.
        var small = StandaloneCache.Create(clock, maxEntries: 2, memo: memo);
        now = clock.GetUtcNow();
        var a = new CachedSession(SessionKey.NewFor("a"), Record("a", now), now, now.AddSeconds(30));
        var b = new CachedSession(SessionKey.NewFor("b"), Record("b", now), now, now.AddSeconds(30));
        small.Set(a, small.Generation);
        small.Set(b, small.Generation);
        a.NoteCookie(memo.Remember("cookie-a", a.Key));
        b.NoteCookie(memo.Remember("cookie-b", b.Key));
        small.Set(new CachedSession(SessionKey.NewFor("c"), Record("c", now), now, now.AddSeconds(30)), small.Generation);
        var dropped = small.Peek(a.Key) is null ? "cookie-a" : "cookie-b";
        var stayed = dropped == "cookie-a" ? "cookie-b" : "cookie-a";
        Assert.Equal(CachedSession.Residency.Retired, (dropped == "cookie-a" ? a : b).State);
        Assert.False(memo.TryGet(dropped, out _, out _));
        Assert.True(memo.TryGet(stayed, out _, out _));

        // A revocation (a logout, say) drops the session in use and its cookie with it: the memo keeps no ended session.
        small.Remove((dropped == "cookie-a" ? b : a).Key);
        Assert.False(memo.TryGet(stayed, out _, out _));
    }

    [Fact]
    public void A_full_cache_sheds_idle_sessions_before_it_drops_any_and_so_holds_more_of_them()
    {
        var clock = new FakeClock();
        var cache = StandaloneCache.Create(clock, megabytes: 1);
        var now = clock.GetUtcNow();
        var sessions = new List<CachedSession>();
        for (var i = 0; i < 2_000; i++)
        {
            var session = new CachedSession(SessionKey.NewFor($"u{i}"), Record($"user-{i}", now), now, now.AddSeconds(30));
            sessions.Add(session);
            cache.Set(session, cache.Generation);
            Assert.InRange(cache.EstimatedBytes, 0, 1024 * 1024);
        }
        var whole = 1024 * 1024 / sessions[0].EstimatedBytes;
        output.WriteLine($"1 MB holds {whole} sessions in use; after shedding it holds {cache.Count}");
        // Each session in use would fill the budget at ~450; shed ones take a third of the room.
        Assert.InRange(cache.Count, whole * 2, 1024 * 1024 / sessions[0].ShedBytes);
        var held = sessions.Where(s => cache.Peek(s.Key) == s).ToList();
        Assert.Equal(cache.Count, held.Count);
        Assert.Equal(Counted(held), cache.EstimatedBytes);
        Assert.Contains(held, s => s.State == CachedSession.Residency.Shed);
        // The newest is never the one dropped: it was just read into the cache.
        Assert.True(cache.TryGet(sessions[^1].Key, now, out _));
    }

    [Fact]
    public void The_first_time_the_cache_fills_it_sheds_sessions_rather_than_dropping_any()
    {
        var clock = new FakeClock();
        var cache = StandaloneCache.Create(clock, megabytes: 1);
        var now = clock.GetUtcNow();
        var sessions = new List<CachedSession>();
        // Every entry is still marked read when the cache first fills: the first look marks them idle, the second sheds.
        while (cache.Count == sessions.Count)
        {
            var session = new CachedSession(SessionKey.NewFor($"u{sessions.Count}"), Record($"user-{sessions.Count}", now), now, now.AddSeconds(30));
            sessions.Add(session);
            cache.Set(session, cache.Generation);
            if (sessions.Any(s => s.State == CachedSession.Residency.Shed)) break;
        }
        Assert.Equal(sessions.Count, cache.Count);
        Assert.All(sessions, s => Assert.Same(s, cache.Peek(s.Key)));
        Assert.InRange(cache.EstimatedBytes, 0, 1024 * 1024);
        Assert.Equal(Counted(sessions), cache.EstimatedBytes);
    }

    [Fact]
    public void Waking_shed_sessions_never_takes_the_cache_past_its_memory_budget()
    {
        var clock = new FakeClock();
        var cache = StandaloneCache.Create(clock, megabytes: 1);
        var now = clock.GetUtcNow();
        var sessions = Enumerable.Range(0, 2_000).Select(i => new CachedSession(SessionKey.NewFor($"u{i}"), Record($"user-{i}", now), now, now.AddSeconds(30))).ToList();
        foreach (var session in sessions) cache.Set(session, cache.Generation);
        var shed = sessions.Where(s => cache.Peek(s.Key) == s && s.State == CachedSession.Residency.Shed).ToList();
        Assert.True(shed.Count > 1024 * 1024 / sessions[0].EstimatedBytes, $"only {shed.Count} shed");

        // Every shed session read again within its cached time: all hits, no new entry, so only a wake can make room.
        var woken = 0;
        foreach (var session in shed)
        {
            if (cache.TryGet(session.Key, now, out _)) woken++;
            Assert.InRange(cache.EstimatedBytes, 0, 1024 * 1024);
        }
        Assert.True(woken > 0);
        var held = sessions.Where(s => cache.Peek(s.Key) == s).ToList();
        Assert.Equal(cache.Count, held.Count);
        Assert.Equal(Counted(held), cache.EstimatedBytes);
    }

    [Fact]
    public void A_session_the_cache_retired_is_never_taken_back()
    {
        var clock = new FakeClock();
        var cache = StandaloneCache.Create(clock);
        var now = clock.GetUtcNow();
        var session = new CachedSession(SessionKey.NewFor("u1"), Record("u1", now), now, now.AddSeconds(30));
        cache.Set(session, cache.Generation);
        cache.Apply(SessionRevocation.Everything);
        Assert.Equal(CachedSession.Residency.Retired, session.State);

        cache.Set(session, cache.Generation);
        Assert.Null(cache.Peek(session.Key));
        Assert.Equal(0, cache.Count);
        Assert.Equal(0, cache.EstimatedBytes);
        Assert.False(cache.TryGet(session.Key, now, out _));
    }

    [Fact]
    public async Task A_shed_session_wakes_on_its_next_request_without_the_store_and_a_logout_on_another_replica_still_ends_it()
    {
        await using var rig = await CmsRig.StartAsync(redis.Configuration);
        await using var other = await GatewayHost.StartAsync(new GatewayConfig { UpstreamUrl = rig.Cms.BaseUrl + "/" }.WithRedis(redis.Configuration, rig.KeyPrefix));
        using var browser = await rig.Gateway.SignedInBrowserAsync("alice", "alice-password");
        var before = await browser.Http.GetFromJsonAsync<JsonElement>("/admin/whoami");
        Assert.True(before.GetProperty("identity").GetProperty("verified").GetBoolean());

        var cache = rig.Gateway.Services.GetRequiredService<SessionCache>();
        var request = new DefaultHttpContext();
        request.Request.Headers.Cookie = $"gw_session={browser.Cookie("gw_session")}";
        var key = rig.Gateway.Services.GetRequiredService<SessionCookies>().Read(request.Request)!.Value;
        var cached = cache.Peek(key)!;
        cache.ShedIdle();
        cache.ShedIdle();
        Assert.Equal(CachedSession.Residency.Shed, cached.State);

        // Woken, not fetched again: the same entry, the same facts, and the assertion it had, spelled out again from the
        // seal the shed entry kept (no new signature) and still valid.
        var memo = rig.Gateway.Services.GetRequiredService<VerifiedCookieMemo>();
        Assert.False(memo.TryGet(browser.Cookie("gw_session")!, out _, out _));
        var after = await browser.Http.GetFromJsonAsync<JsonElement>("/admin/whoami");
        Assert.Same(cached, cache.Peek(key));
        Assert.Equal(CachedSession.Residency.Used, cached.State);
        // Its cookie checked again and remembered, carrying the cached session's key.
        Assert.True(memo.TryGet(browser.Cookie("gw_session")!, out var remembered, out _));
        Assert.Equal(cached.Key, remembered);
        var identity = after.GetProperty("identity");
        Assert.True(identity.GetProperty("verified").GetBoolean(), identity.ToString());
        Assert.Equal("alice", identity.GetProperty("user").GetString());
        foreach (var header in new[] { "x-auth-user", "x-auth-email", "x-auth-name", "x-auth-roles" })
            Assert.Equal(before.GetProperty("headers").GetProperty(header).GetString(), after.GetProperty("headers").GetProperty(header).GetString());
        Assert.Equal(before.GetProperty("identity").GetProperty("claims").GetProperty("sid_hash").GetString(), identity.GetProperty("claims").GetProperty("sid_hash").GetString());
        Assert.Equal(before.GetProperty("identity").GetProperty("claims").GetProperty("jti").GetString(), identity.GetProperty("claims").GetProperty("jti").GetString());
        Assert.Null(cached.Seal);

        // Shed again, then ended on the other replica: the revocation drops the shed entry like any other.
        cache.ShedIdle();
        cache.ShedIdle();
        Assert.Equal(CachedSession.Residency.Shed, cached.State);
        using var onOther = other.Browser();
        onOther.SetCookie("gw_session", browser.Cookie("gw_session")!);
        Assert.Equal(HttpStatusCode.Found, (await onOther.NavigateAsync("/logout", site: "same-origin")).StatusCode);
        var watch = Stopwatch.StartNew();
        HttpStatusCode status;
        do status = (await browser.ApiGetAsync("/api/whoami")).StatusCode;
        while (status == HttpStatusCode.OK && watch.ElapsedMilliseconds < 10_000);
        output.WriteLine($"the shed session was refused {watch.Elapsed.TotalMilliseconds:0.0} ms after logout on the other replica");
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Null(cache.Peek(key));
        Assert.Equal(CachedSession.Residency.Retired, cached.State);
    }

    [Fact]
    public async Task A_tampered_copy_of_a_shed_sessions_cookie_is_still_anonymous()
    {
        await using var rig = await CmsRig.StartAsync(redis.Configuration);
        using var browser = await rig.Gateway.SignedInBrowserAsync("alice", "alice-password");
        Assert.Equal(HttpStatusCode.OK, (await browser.ApiGetAsync("/api/whoami")).StatusCode);
        var cache = rig.Gateway.Services.GetRequiredService<SessionCache>();
        var memo = rig.Gateway.Services.GetRequiredService<VerifiedCookieMemo>();
        var valid = browser.Cookie("gw_session")!;
        Assert.True(memo.TryGet(valid, out _, out _));
        cache.ShedIdle();
        cache.ShedIdle();

        // The memo forgot the value with the session: every spelling, the real one too, takes the full check again,
        // and only the real one is remembered again.
        Assert.False(memo.TryGet(valid, out _, out _));
        using var attacker = new Browser(rig.Gateway.BaseUrl, useCookies: false);
        foreach (var forged in new[] { valid[..^1] + (valid[^1] == 'A' ? 'B' : 'A'), valid[1..], valid + "A", valid.ToUpperInvariant() })
        {
            attacker.Http.DefaultRequestHeaders.Remove("Cookie");
            attacker.Http.DefaultRequestHeaders.TryAddWithoutValidation("Cookie", $"gw_session={forged}");
            Assert.Equal(HttpStatusCode.Unauthorized, (await attacker.ApiGetAsync("/api/whoami")).StatusCode);
            Assert.False(memo.TryGet(forged, out _, out _));
        }
        Assert.Equal(HttpStatusCode.OK, (await browser.ApiGetAsync("/api/whoami")).StatusCode);
    }
}
