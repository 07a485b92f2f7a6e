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
            // No session cache: every request is a miss, so the mark held for misses is what decides.
            .Set("Gateway:Session:CacheDuration", "00:00:00");

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
        await using var a = await GatewayHost.StartAsync(Config(cluster, upstream, prefix));
        await using var b = await GatewayHost.StartAsync(Config(cluster, upstream, prefix));
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

        Assert.Equal(HttpStatusCode.Unauthorized, await Poll.RefusalAsync(b.Browser, cookie));
        Assert.Equal(HttpStatusCode.Unauthorized, await Poll.RefusalAsync(a.Browser, cookie));
        Assert.True(held.TryGet(out var after));
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
        await using var b = await GatewayHost.StartAsync(Config(cluster, upstream, prefix));
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
        gated.Release.SetResult();
        await revokeAll;

        Assert.Equal(HttpStatusCode.Unauthorized, await Poll.RefusalAsync(b.Browser, alice.Cookie("gw_session")!));
        Assert.Equal(HttpStatusCode.Unauthorized, await Poll.RefusalAsync(a.Browser, alice.Cookie("gw_session")!));
    }

    [Fact]
    public async Task The_held_mark_is_not_used_while_the_feed_is_down_and_a_read_a_revoke_all_overtook_is_not_kept()
    {
        const string prefix = "gwgm3:";
        await using var cluster = await RedisClusterRig.StartAsync();
        await using var upstream = await RecordingUpstream.StartAsync();
        await using var b = await GatewayHost.StartAsync(Config(cluster, upstream, prefix));
        using var browser = await b.SignedInBrowserAsync("alice", "alice-password");
        Assert.Equal(HttpStatusCode.OK, (await browser.ApiGetAsync("/api/whoami")).StatusCode);
        var held = b.Services.GetRequiredService<HeldGlobalMark>();
        var cache = b.Services.GetRequiredService<SessionCache>();
        Assert.True(held.TryGet(out _));

        cache.Distrust("test: feed down");
        Assert.False(held.TryGet(out _));
        held.Keep(null, held.Epoch);
        Assert.False(held.TryGet(out _));
        cache.Trust("test: feed back");

        var epoch = held.Epoch;
        held.Forget();
        held.Keep(null, epoch);
        Assert.False(held.TryGet(out _));
        // The next miss reads it afresh and holds it again.
        Assert.Equal(HttpStatusCode.OK, (await browser.ApiGetAsync("/api/whoami")).StatusCode);
        Assert.True(held.TryGet(out _));
    }
}
