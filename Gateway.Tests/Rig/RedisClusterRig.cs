using StackExchange.Redis;

namespace Gateway.Tests.Rig;

/// <summary>A real Redis Cluster of three primaries (no replicas), each node a redis-server stopped by its PID.</summary>
internal sealed class RedisClusterRig : IAsyncDisposable
{
    private readonly List<ServerProcess> _nodes = [];
    private readonly List<string> _dirs = [];

    public List<int> Ports { get; } = [];

    /// <summary>Every node listed, StackExchange.Redis's own syntax: the client finds the slots itself.</summary>
    public string Configuration => string.Join(",", Ports.Select(p => $"127.0.0.1:{p}"));

    public static async Task<RedisClusterRig> StartAsync()
    {
        var rig = new RedisClusterRig();
        try
        {
            await rig.StartNodesAsync();
            return rig;
        }
        catch
        {
            await rig.DisposeAsync();
            throw;
        }
    }

    private async Task StartNodesAsync()
    {
        var redisServer = Tools.Require("redis-server", "apt-get install -y redis-server");
        var redisCli = Tools.Require("redis-cli", "apt-get install -y redis-tools");
        for (var i = 0; i < 3; i++)
        {
            var port = Tools.FreeClusterPort();
            var dir = Tools.NewTempDir("cluster");
            _dirs.Add(dir);
            Ports.Add(port);
            var node = new ServerProcess(redisServer, ["--port", $"{port}", "--bind", "127.0.0.1", "--cluster-enabled", "yes",
                "--cluster-config-file", Path.Combine(dir, "nodes.conf"), "--save", "", "--appendonly", "no", "--dir", dir], readyMarker: "Ready to accept connections");
            _nodes.Add(node);
            await node.WaitReadyAsync(TimeSpan.FromSeconds(15));
        }
        await using (var create = new ServerProcess(redisCli, ["--cluster", "create", .. Ports.Select(p => $"127.0.0.1:{p}"), "--cluster-yes"]))
            if (await create.WaitForExitAsync(TimeSpan.FromSeconds(60)) != 0) throw new InvalidOperationException($"redis-cli --cluster create failed:\n{create.Output}");
        // Each node learns the cluster is up on its own: one saying so is not enough (the others answer CLUSTERDOWN).
        for (var i = 0; i < 100; i++)
        {
            var ok = true;
            foreach (var port in Ports)
            {
                await using var info = new ServerProcess(redisCli, ["-p", $"{port}", "cluster", "info"]);
                await info.WaitForExitAsync(TimeSpan.FromSeconds(5));
                ok &= info.Output.Contains("cluster_state:ok", StringComparison.Ordinal);
            }
            if (ok) return;
            await Task.Delay(100);
        }
        throw new TimeoutException("The Redis cluster did not reach cluster_state:ok.");
    }

    /// <summary>Freezes primary <paramref name="node"/> (SIGSTOP): its connections stay open and nothing answers, as a shard that hangs.</summary>
    public Task PauseAsync(int node) => SignalAsync(node, "-STOP");

    /// <summary>Lets a paused primary go on (SIGCONT).</summary>
    public Task ResumeAsync(int node) => SignalAsync(node, "-CONT");

    private async Task SignalAsync(int node, string signal)
    {
        using var kill = System.Diagnostics.Process.Start("kill", [signal, _nodes[node].Pid.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        await kill.WaitForExitAsync();
        if (kill.ExitCode != 0) throw new InvalidOperationException($"kill {signal} of cluster node {node} exited with {kill.ExitCode}");
    }

    /// <summary>How many keys matching <paramref name="pattern"/> each primary holds, read from each node directly.</summary>
    public async Task<int[]> KeysPerNodeAsync(string pattern)
    {
        var counts = new int[Ports.Count];
        for (var i = 0; i < Ports.Count; i++)
        {
            await using var node = await ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{Ports[i]}");
            var server = node.GetServer($"127.0.0.1:{Ports[i]}");
            await foreach (var _ in server.KeysAsync(pattern: pattern)) counts[i]++;
        }
        return counts;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var node in _nodes) await node.DisposeAsync();
        foreach (var dir in _dirs) try { Directory.Delete(dir, true); } catch (IOException) { }
    }
}
