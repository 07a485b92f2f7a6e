using Gateway.Sessions;

namespace Gateway.Tests.Sessions;

/// <summary>The key layout works on a real 3-master Redis Cluster: the scripts touching a record and its index stay in one slot.</summary>
public sealed class RedisClusterTests
{
    [Fact]
    public async Task Session_store_works_on_a_three_master_redis_cluster()
    {
        await using var cluster = await RedisClusterRig.StartAsync();
        var config = new GatewayConfig().WithRedis(cluster.Configuration);
        await using var host = await GatewayHost.StartAsync(config);
        var store = host.Services.GetRequiredService<ISessionStore>();

        // Users spread over slots on different masters.
        var keys = Enumerable.Range(0, 12).Select(i => SessionKey.NewFor($"cluster-user-{i}").Handle).ToList();
        foreach (var key in keys) await store.CreateAsync(key, [7], TimeSpan.FromMinutes(5), default);
        foreach (var key in keys) Assert.Equal(new byte[] { 7 }, (await store.GetAsync(key, default))!.Record);
        Assert.Single(await store.ListByUserAsync(keys[3].UserTag, 100, default));
        Assert.True(await store.DeleteAsync(keys[0], default));
        // One slide call for sessions on every master: each answered in order, the deleted one as gone, the rest slid.
        var slid = await store.TouchAsync([.. keys.Select(k => new SessionSlide(k, TimeSpan.FromMinutes(10)))], default);
        Assert.Equal([SlideOutcome.Gone, .. Enumerable.Repeat(SlideOutcome.Slid, 11)], slid);
        // One read call for sessions on every master: each answered in order, the deleted one as gone.
        var read = await store.GetEachAsync(keys, default);
        Assert.All(read, r => Assert.False(r.Failed));
        Assert.Null(read[0].Stored);
        Assert.All(read.Skip(1), r => Assert.Equal(new byte[] { 7 }, r.Stored!.Record));
        await using (var direct = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(cluster.Configuration))
        {
            var prefix = config.Settings["Gateway:Redis:KeyPrefix"];
            foreach (var key in keys.Skip(1))
                Assert.InRange((await direct.GetDatabase().KeyTimeToLiveAsync($"{prefix}{{u:{key.UserTag}}}:s:{key.Hash}"))!.Value, TimeSpan.FromMinutes(9.9), TimeSpan.FromMinutes(10));
        }
        Assert.Equal(1, await store.DeleteByUserAsync(keys[1].UserTag, DateTimeOffset.UtcNow, TimeSpan.FromHours(1), default));
        Assert.Equal(10, await store.DeleteAllAsync(DateTimeOffset.UtcNow, TimeSpan.FromHours(1), default));

        // Login through the gateway end to end on the cluster.
        using var browser = host.Browser();
        Assert.Equal(HttpStatusCode.SeeOther, (await browser.LoginAsync("alice", "alice-password")).StatusCode);
        Assert.NotNull(browser.Cookie("gw_session"));
    }

    [Fact]
    public async Task A_batch_read_with_one_primary_hanging_answers_the_sessions_on_the_others_and_fails_only_those_on_it()
    {
        await using var cluster = await RedisClusterRig.StartAsync();
        // The client's own timeout far past the call's (1 s): the call's running out is what ends the wait, as in production.
        var config = new GatewayConfig().WithRedis(cluster.Configuration + ",asyncTimeout=10000").Set("Gateway:Redis:OperationTimeout", "00:00:01");
        await using var host = await GatewayHost.StartAsync(config);
        var store = host.Services.GetRequiredService<ISessionStore>();
        var prefix = config.Settings["Gateway:Redis:KeyPrefix"];
        var keys = Enumerable.Range(0, 24).Select(i => SessionKey.NewFor($"hang-user-{i}").Handle).ToList();
        foreach (var key in keys) await store.CreateAsync(key, [7], TimeSpan.FromMinutes(5), default);
        // Read once with every primary up: the global marker is held from here, so the batch below needs no command for it.
        Assert.All(await store.GetEachAsync(keys, default), r => Assert.False(r.Failed));

        // The primary to freeze holds sessions but not the global marker's slot. The revocation feed may be subscribed on it
        // (a plain channel goes to any node): a freeze of a second is far shorter than what would report that connection lost.
        await using var direct = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(cluster.Configuration);
        var slots = direct.GetServer(direct.GetEndPoints()[0]).ClusterConfiguration!;
        int NodeOf(string key) => cluster.Ports.IndexOf(((System.Net.IPEndPoint)slots.GetBySlot(direct.HashSlot(key))!.EndPoint!).Port);
        var homes = keys.Select(k => NodeOf($"{prefix}{{u:{k.UserTag}}}:s:{k.Hash}")).ToList();
        var marker = NodeOf($"{prefix}revoked");
        var frozen = Enumerable.Range(0, 3).Where(n => n != marker).OrderByDescending(n => homes.Count(h => h == n)).First();
        Assert.Contains(frozen, homes);
        Assert.Contains(homes, h => h != frozen);

        await cluster.PauseAsync(frozen);
        SessionRead[] read;
        try
        {
            read = await store.GetEachAsync(keys, default);
        }
        finally
        {
            await cluster.ResumeAsync(frozen);
        }
        for (var i = 0; i < keys.Count; i++)
        {
            if (homes[i] == frozen)
            {
                Assert.True(read[i].Failed, $"session {i} on the frozen primary");
            }
            else
            {
                Assert.False(read[i].Failed, $"session {i} on a primary that answered");
                Assert.Equal(new byte[] { 7 }, read[i].Stored!.Record);
            }
        }
    }
}
