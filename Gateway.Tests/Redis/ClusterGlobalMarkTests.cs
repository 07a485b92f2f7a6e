using Gateway.Redis;
using Gateway.Sessions;
using StackExchange.Redis;

namespace Gateway.Tests.Redis;

/// <summary>
/// On a Redis Cluster each replica holds the global revoke-all mark between revoke-alls (a cache miss is then one
/// command, not two). These are the attacks on that: a revoke-all on another replica, a record a failover brings back
/// after it, a session created while it ran, and a gap in the revocation feed. Real three-primary cluster.
/// </summary>
public sealed class ClusterGlobalMarkTests
{
    /// <summary>
    /// The real store; once the revoke-all has deleted every session, its reading of the end time (where the global mark
    /// moves last) waits for the test.
    /// </summary>
    private sealed class GatedEndStore(ISessionStore inner) : DelegatingSessionStore(inner)
    {
        private int _deleted;

        public TaskCompletionSource Reached { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override async Task<int> DeleteAllAsync(DateTimeOffset revokedBefore, TimeSpan markerLifetime, CancellationToken cancellationToken)
        {
            var deleted = await Inner.DeleteAllAsync(revokedBefore, markerLifetime, cancellationToken);
            Volatile.Write(ref _deleted, 1);
            return deleted;
        }

        public override async Task<DateTimeOffset> NowAsync(CancellationToken cancellationToken)
        {
            if (Interlocked.Exchange(ref _deleted, 0) == 1)
            {
                Reached.TrySetResult();
                await Release.Task;
            }
            return await Inner.NowAsync(cancellationToken);
        }
    }

    private static GatewayConfig Config(RedisClusterRig cluster, RecordingUpstream upstream, string prefix) =>
        new GatewayConfig { UpstreamUrl = upstream.BaseUrl + "/" }.WithRedis(cluster.Configuration, prefix)
            // No session is cached (every request reads the store), so the mark held for those reads is what decides; the
            // cache duration stays the default, which bounds how long the mark is held.
            .Set("Gateway:Session:CacheMaxEntries", "0");

    /// <summary>The store fails a revoke-all part way: its mark written, no session deleted yet.</summary>
    private sealed class FailingRevokeAllStore(ISessionStore inner) : DelegatingSessionStore(inner)
    {
        public override async Task<int> DeleteAllAsync(DateTimeOffset revokedBefore, TimeSpan markerLifetime, CancellationToken cancellationToken)
        {
            await Inner.MarkRevokedAsync(null, revokedBefore, markerLifetime, cancellationToken);
            throw new StoreUnavailableException("test: the store failed part way through the revoke-all");
        }
    }

    /// <summary>A replica holds the mark only while its cache is trusted: from when its revocation subscription is up.</summary>
    private static async Task<GatewayHost> TrustedAsync(GatewayHost gateway)
    {
        var cache = gateway.Services.GetRequiredService<SessionCache>();
        Assert.NotNull(await Poll.Until(() => Task.FromResult(cache.IsTrusted ? (object?)true : null)));
        return gateway;
    }

    private static Task<HttpStatusCode> AnswerAsync(GatewayHost gateway, string cookie) => Poll.AnswerAsync(gateway.Browser, cookie);

    private static async Task<RedisKey> RecordKeyAsync(RedisClusterRig cluster, string prefix)
    {
        foreach (var port in cluster.Ports)
        {
            await using var node = await ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{port}");
            await foreach (var key in node.GetServer($"127.0.0.1:{port}").KeysAsync(pattern: prefix + "*:s:*")) return key;
        }
        throw new InvalidOperationException("no session record in the cluster");
    }

    [Fact]
    public async Task A_revoke_all_on_one_replica_reaches_the_mark_another_holds_so_a_record_a_failover_brings_back_is_refused_there()
    {
        const string prefix = "gwgm1:";
        await using var cluster = await RedisClusterRig.StartAsync();
        await using var upstream = await RecordingUpstream.StartAsync();
        await using var a = await TrustedAsync(await GatewayHost.StartAsync(Config(cluster, upstream, prefix)));
        await using var b = await TrustedAsync(await GatewayHost.StartAsync(Config(cluster, upstream, prefix)));
        using var browser = await a.SignedInBrowserAsync("alice", "alice-password");
        var cookie = browser.Cookie("gw_session")!;
        using var onB = b.Browser();
        onB.SetCookie("gw_session", cookie);
        Assert.Equal(HttpStatusCode.OK, (await onB.ApiGetAsync("/api/whoami")).StatusCode);
        var held = b.Services.GetRequiredService<HeldGlobalMark>();
        Assert.True(held.TryGet(out var before));
        Assert.Null(before);
        await using var direct = await ConnectionMultiplexer.ConnectAsync(cluster.Configuration);
        var recordKey = await RecordKeyAsync(cluster, prefix);
        var record = (await direct.GetDatabase().KeyDumpAsync(recordKey))!;

        await a.Services.GetRequiredService<SessionManager>().RevokeAllAsync("test", default);
        // The failover the gateway cannot rule out: the record back as a replica had it before the revoke-all reached it.
        await direct.GetDatabase().KeyRestoreAsync(recordKey, record, TimeSpan.FromMinutes(10));

        // The replica that revoked refuses at once; the other when the message reaches it.
        Assert.Equal(HttpStatusCode.Unauthorized, await AnswerAsync(a, cookie));
        Assert.Equal(HttpStatusCode.Unauthorized, await Poll.RefusalAsync(b.Browser, cookie));
        // Each of the revoke-all's messages makes B let go of the mark it held and read it afresh on its next miss, and
        // one may arrive after the request that refused (under load the suite saw the mark not held at that moment):
        // B's requests stay refused, and once the messages are in, the mark B holds is the revoke-all's.
        var after = await Poll.Until(async () =>
        {
            Assert.Equal(HttpStatusCode.Unauthorized, await AnswerAsync(b, cookie));
            return held.TryGet(out var mark) ? mark : null;
        });
        Assert.NotNull(after);
    }

    [Fact]
    public async Task A_session_created_while_a_revoke_all_runs_is_refused_by_a_replica_that_holds_the_mark()
    {
        const string prefix = "gwgm2:";
        await using var cluster = await RedisClusterRig.StartAsync();
        await using var upstream = await RecordingUpstream.StartAsync();
        GatedEndStore? gated = null;
        await using var a = await GatewayHost.StartAsync(Config(cluster, upstream, prefix), services: s =>
            s.AddSingleton<ISessionStore>(sp => gated = new GatedEndStore(ActivatorUtilities.CreateInstance<RedisSessionStore>(sp))));
        a.Services.GetRequiredService<ISessionStore>();
        await using var b = await TrustedAsync(await GatewayHost.StartAsync(Config(cluster, upstream, prefix)));
        using (var admin = await b.SignedInBrowserAsync("admin", "admin-password"))
            Assert.Equal(HttpStatusCode.OK, (await admin.ApiGetAsync("/api/whoami")).StatusCode);

        var revokeAll = a.Services.GetRequiredService<SessionManager>().RevokeAllAsync("test", default);
        await gated!.Reached.Task.WaitAsync(TimeSpan.FromSeconds(10));
        // Every session deleted and the first message out; the mark still where the revoke-all started. A sign-in now is
        // younger than that, and served: the revoke-all has not finished. Its end time is read after this.
        var alice = await Poll.Until(async () =>
        {
            var browser = await b.SignedInBrowserAsync("alice", "alice-password");
            if ((await browser.ApiGetAsync("/api/whoami")).StatusCode == HttpStatusCode.OK) return browser;
            browser.Dispose();
            return null;
        });
        Assert.NotNull(alice);
        using var _ = alice;
        // The premise: b holds the mark where the revoke-all started (its first message reached b, a read followed).
        var heldOnB = b.Services.GetRequiredService<HeldGlobalMark>();
        Assert.NotNull(await Poll.Until(async () =>
            (await alice.ApiGetAsync("/api/whoami")).StatusCode == HttpStatusCode.OK && heldOnB.TryGet(out var started) && started is not null ? (object?)true : null));
        gated.Release.SetResult();
        await revokeAll;

        Assert.Equal(HttpStatusCode.Unauthorized, await AnswerAsync(a, alice.Cookie("gw_session")!));
        Assert.Equal(HttpStatusCode.Unauthorized, await Poll.RefusalAsync(b.Browser, alice.Cookie("gw_session")!));
    }

    [Fact]
    public async Task A_revoke_all_that_fails_part_way_still_reaches_every_replica_so_what_its_mark_refuses_is_refused_there()
    {
        const string prefix = "gwgm3:";
        await using var cluster = await RedisClusterRig.StartAsync();
        await using var upstream = await RecordingUpstream.StartAsync();
        await using var a = await GatewayHost.StartAsync(Config(cluster, upstream, prefix), services: s =>
            s.AddSingleton<ISessionStore>(sp => new FailingRevokeAllStore(ActivatorUtilities.CreateInstance<RedisSessionStore>(sp))));
        await using var b = await TrustedAsync(await GatewayHost.StartAsync(Config(cluster, upstream, prefix)));
        using var browser = await a.SignedInBrowserAsync("alice", "alice-password");
        var cookie = browser.Cookie("gw_session")!;
        Assert.Equal(HttpStatusCode.OK, await AnswerAsync(b, cookie));
        Assert.True(b.Services.GetRequiredService<HeldGlobalMark>().TryGet(out var before));
        Assert.Null(before);

        await Assert.ThrowsAsync<StoreUnavailableException>(() => a.Services.GetRequiredService<SessionManager>().RevokeAllAsync("test", default));

        // Alice's record was never deleted: only the mark refuses her, on both replicas.
        Assert.Equal(HttpStatusCode.Unauthorized, await AnswerAsync(a, cookie));
        Assert.Equal(HttpStatusCode.Unauthorized, await Poll.RefusalAsync(b.Browser, cookie));
    }

    [Fact]
    public async Task A_gap_in_the_revocation_feed_forgets_the_held_mark_and_it_is_never_held_longer_than_a_cached_session()
    {
        const string prefix = "gwgm4:";
        await using var cluster = await RedisClusterRig.StartAsync();
        await using var upstream = await RecordingUpstream.StartAsync();
        var clock = new FakeClock();
        await using var b = await TrustedAsync(await GatewayHost.StartAsync(Config(cluster, upstream, prefix), clock));
        using var browser = await b.SignedInBrowserAsync("alice", "alice-password");
        Assert.Equal(HttpStatusCode.OK, (await browser.ApiGetAsync("/api/whoami")).StatusCode);
        var held = b.Services.GetRequiredService<HeldGlobalMark>();
        Assert.True(held.TryGet(out _));

        // The feed drops (every node closes its subscribers) and comes back; a revoke-all could have gone by meanwhile.
        int Trusted() => b.Logs.Lines.Count(l => l.Event.Name == "SessionCacheTrusted");
        var trustedBefore = Trusted();
        foreach (var port in cluster.Ports)
        {
            await using var node = await ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{port},allowAdmin=true");
            await node.GetServer($"127.0.0.1:{port}").ClientKillAsync(clientType: ClientType.PubSub);
        }
        Assert.NotNull(await Poll.Until(() => Task.FromResult(
            b.Logs.Lines.Any(l => l.Event.Name == "SessionCacheDistrusted" && l.Message.Contains("subscription lost", StringComparison.Ordinal))
            && Trusted() > trustedBefore && b.Services.GetRequiredService<SessionCache>().IsTrusted ? (object?)true : null)));
        // Each node's subscriber comes back on its own, and a late one moves the cache's generation again: wait until the
        // feed has settled (trust unchanged for a second; on a busy machine the last can come seconds after the first).
        for (var (seen, waited) = (Trusted(), 0); waited < 15; waited++)
        {
            await Task.Delay(1000);
            if (Trusted() == seen && b.Services.GetRequiredService<SessionCache>().IsTrusted) break;
            seen = Trusted();
        }
        Assert.False(held.TryGet(out _));

        // Read again by the next request, and held no longer than a cached session would be (the default 30 s).
        Assert.Equal(HttpStatusCode.OK, (await browser.ApiGetAsync("/api/whoami")).StatusCode);
        Assert.True(held.TryGet(out _));
        clock.Advance(TimeSpan.FromSeconds(29));
        Assert.True(held.TryGet(out _));
        clock.Advance(TimeSpan.FromSeconds(1));
        Assert.False(held.TryGet(out _));
    }
}
