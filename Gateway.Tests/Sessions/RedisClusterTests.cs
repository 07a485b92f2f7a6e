using Gateway.Sessions;

namespace Gateway.Tests.Sessions;

/// <summary>The key layout works on a real 3-master Redis Cluster: the scripts touching a record and its index stay in one slot.</summary>
public sealed class RedisClusterTests
{
    [Fact]
    public async Task Session_store_works_on_a_three_master_redis_cluster()
    {
        var redisServer = Tools.Require("redis-server", "apt-get install -y redis-server");
        var redisCli = Tools.Require("redis-cli", "apt-get install -y redis-tools");
        var nodes = new List<ServerProcess>();
        var dirs = new List<string>();
        try
        {
            var ports = Enumerable.Range(0, 3).Select(_ => Tools.FreeClusterPort()).ToArray();
            foreach (var port in ports)
            {
                var dir = Tools.NewTempDir("cluster");
                dirs.Add(dir);
                var node = new ServerProcess(redisServer, ["--port", $"{port}", "--bind", "127.0.0.1", "--cluster-enabled", "yes",
                    "--cluster-config-file", Path.Combine(dir, "nodes.conf"), "--save", "", "--appendonly", "no", "--dir", dir], readyMarker: "Ready to accept connections");
                nodes.Add(node);
                await node.WaitReadyAsync(TimeSpan.FromSeconds(15));
            }
            await using (var create = new ServerProcess(redisCli, ["--cluster", "create", .. ports.Select(p => $"127.0.0.1:{p}"), "--cluster-yes"]))
                Assert.Equal(0, await create.WaitForExitAsync(TimeSpan.FromSeconds(60)));
            await WaitForClusterOkAsync(redisCli, ports[0]);

            var config = new GatewayConfig().WithRedis(string.Join(",", ports.Select(p => $"127.0.0.1:{p}")));
            await using var host = await GatewayHost.StartAsync(config);
            var store = host.Services.GetRequiredService<ISessionStore>();

            // Users spread over slots on different masters.
            var keys = Enumerable.Range(0, 12).Select(i => SessionKey.NewFor($"cluster-user-{i}").Handle).ToList();
            foreach (var key in keys) await store.CreateAsync(key, [7], TimeSpan.FromMinutes(5), default);
            foreach (var key in keys) Assert.Equal(new byte[] { 7 }, (await store.GetAsync(key, default))!.Record);
            Assert.Single(await store.ListByUserAsync(keys[3].UserTag, 100, default));
            Assert.True(await store.DeleteAsync(keys[0], default));
            Assert.Equal(1, await store.DeleteByUserAsync(keys[1].UserTag, DateTimeOffset.UtcNow, TimeSpan.FromHours(1), default));
            Assert.Equal(10, await store.DeleteAllAsync(DateTimeOffset.UtcNow, TimeSpan.FromHours(1), default));

            // Login through the gateway end to end on the cluster.
            using var browser = host.Browser();
            Assert.Equal(HttpStatusCode.SeeOther, (await browser.LoginAsync("alice", "alice-password")).StatusCode);
            Assert.NotNull(browser.Cookie("gw_session"));
        }
        finally
        {
            foreach (var node in nodes) await node.DisposeAsync();
            foreach (var dir in dirs) try { Directory.Delete(dir, true); } catch (IOException) { }
        }
    }

    private static async Task WaitForClusterOkAsync(string redisCli, int port)
    {
        for (var i = 0; i < 100; i++)
        {
            await using var info = new ServerProcess(redisCli, ["-p", $"{port}", "cluster", "info"]);
            await info.WaitForExitAsync(TimeSpan.FromSeconds(5));
            if (info.Output.Contains("cluster_state:ok", StringComparison.Ordinal)) return;
            await Task.Delay(100);
        }
        throw new TimeoutException("The Redis cluster did not reach cluster_state:ok.");
    }
}
