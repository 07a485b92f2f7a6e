using System.Diagnostics;
using StackExchange.Redis;

namespace Gateway.Tests.Rig;

/// <summary>
/// Redis as Sentinel runs it: one primary, one replica fed through a <see cref="DelayedTcpHop"/> (replication lags by
/// <c>replicationDelay</c>), and three sentinels (quorum 2, a primary is down after 1 s). Every process is real and
/// stopped by its PID.
/// </summary>
internal sealed class SentinelRig : IAsyncDisposable
{
    public const string ServiceName = "gwprimary";

    private readonly List<ServerProcess> _sentinels = [];
    private readonly List<string> _dirs = [];
    private ServerProcess? _primary;
    private ServerProcess? _replica;
    private DelayedTcpHop? _hop;

    public int PrimaryPort { get; private set; }
    public int ReplicaPort { get; private set; }
    public List<int> SentinelPorts { get; } = [];

    /// <summary>The gateway's configuration string: the sentinels and the service, StackExchange.Redis's own syntax.</summary>
    public string Configuration => string.Join(",", SentinelPorts.Select(p => $"127.0.0.1:{p}")) + $",serviceName={ServiceName}";

    /// <summary>How far behind the replica is fed; can change while the rig runs.</summary>
    public TimeSpan ReplicationDelay
    {
        get => _hop!.Delay;
        set => _hop!.Delay = value;
    }

    /// <summary>The primary alone, as a plain configuration string (no Sentinel).</summary>
    public string PrimaryConfiguration => $"127.0.0.1:{PrimaryPort}";

    /// <param name="sentinels">Without them, a primary and its lagging replica only (no failover).</param>
    public static async Task<SentinelRig> StartAsync(TimeSpan replicationDelay, bool sentinels = true)
    {
        var rig = new SentinelRig();
        try
        {
            await rig.StartProcessesAsync(replicationDelay, sentinels);
            return rig;
        }
        catch
        {
            await rig.DisposeAsync();
            throw;
        }
    }

    private async Task StartProcessesAsync(TimeSpan replicationDelay, bool sentinels)
    {
        var redisServer = Tools.Require("redis-server", "apt-get install -y redis-server");
        PrimaryPort = Tools.FreePort();
        _primary = Redis(redisServer, PrimaryPort, []);
        await _primary.WaitReadyAsync(TimeSpan.FromSeconds(15));
        _hop = DelayedTcpHop.Start(PrimaryPort, replicationDelay);
        ReplicaPort = Tools.FreePort();
        _replica = Redis(redisServer, ReplicaPort, ["--replicaof", "127.0.0.1", _hop.Port.ToString()]);
        await _replica.WaitReadyAsync(TimeSpan.FromSeconds(15));
        if (!sentinels)
        {
            await WaitUntilReplicaOnlineAsync();
            return;
        }
        for (var i = 0; i < 3; i++)
        {
            var port = Tools.FreePort();
            var dir = Tools.NewTempDir("sentinel");
            _dirs.Add(dir);
            var conf = Path.Combine(dir, "sentinel.conf");
            await File.WriteAllTextAsync(conf, $"""
                port {port}
                bind 127.0.0.1
                dir {dir}
                sentinel monitor {ServiceName} 127.0.0.1 {PrimaryPort} 2
                sentinel down-after-milliseconds {ServiceName} 1000
                sentinel failover-timeout {ServiceName} 5000
                sentinel parallel-syncs {ServiceName} 1

                """);
            var sentinel = new ServerProcess(redisServer, [conf, "--sentinel"], readyMarker: $"+monitor master {ServiceName}");
            _sentinels.Add(sentinel);
            SentinelPorts.Add(port);
            await sentinel.WaitReadyAsync(TimeSpan.FromSeconds(15));
        }
        await WaitUntilReadyForFailoverAsync();
    }

    private ServerProcess Redis(string redisServer, int port, string[] extra)
    {
        var dir = Tools.NewTempDir("redis");
        _dirs.Add(dir);
        return new ServerProcess(redisServer,
            ["--port", port.ToString(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, "--protected-mode", "no", .. extra],
            readyMarker: "Ready to accept connections");
    }

    private async Task WaitUntilReplicaOnlineAsync()
    {
        await using var primary = await ConnectionMultiplexer.ConnectAsync($"{PrimaryConfiguration},allowAdmin=true");
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(30))
        {
            if ((await primary.GetServer(PrimaryConfiguration).InfoRawAsync("replication"))?.Contains("state=online", StringComparison.Ordinal) == true) return;
            await Task.Delay(100);
        }
        throw new TimeoutException("The replica did not come online within 30 s.");
    }

    /// <summary>The replica dies (the primary is left with none).</summary>
    public async Task KillReplicaAsync()
    {
        await _replica!.DisposeAsync();
        await _hop!.CutAsync();
    }

    /// <summary>Every sentinel knows the replica (online) and the two other sentinels: a failover can be elected.</summary>
    private async Task WaitUntilReadyForFailoverAsync()
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(30))
        {
            var ready = true;
            foreach (var port in SentinelPorts)
            {
                try
                {
                    await using var sentinel = await ConnectionMultiplexer.SentinelConnectAsync($"127.0.0.1:{port}");
                    var server = sentinel.GetServer($"127.0.0.1:{port}");
                    var replicas = await server.SentinelReplicasAsync(ServiceName);
                    var others = await server.SentinelSentinelsAsync(ServiceName);
                    ready &= replicas.Length == 1 && replicas[0].Any(p => p.Key == "master-link-status" && p.Value == "ok")
                        && replicas[0].Any(p => p.Key == "flags" && p.Value == "slave") && others.Length == 2;
                }
                catch (RedisException)
                {
                    ready = false;
                }
            }
            if (ready) return;
            await Task.Delay(200);
        }
        throw new TimeoutException("The sentinels did not all see the replica and each other within 30 s.");
    }

    /// <summary>The primary's host dies: the process is killed and what its link to the replica still held is lost.</summary>
    public async Task KillPrimaryAsync()
    {
        var kill = _primary!.DisposeAsync();
        await _hop!.CutAsync();
        await kill;
    }

    /// <summary>Waits until a sentinel names the former replica as the primary; returns when it was seen.</summary>
    public async Task<TimeSpan> WaitForFailoverAsync(TimeSpan timeout, Stopwatch clock)
    {
        await using var sentinel = await ConnectionMultiplexer.SentinelConnectAsync($"127.0.0.1:{SentinelPorts[0]}");
        var server = sentinel.GetServer($"127.0.0.1:{SentinelPorts[0]}");
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < timeout)
        {
            if (await server.SentinelGetMasterAddressByNameAsync(ServiceName) is System.Net.IPEndPoint { Port: var port } && port == ReplicaPort)
                return clock.Elapsed;
            await Task.Delay(50);
        }
        throw new TimeoutException($"The sentinels did not elect the replica within {timeout}.");
    }

    /// <summary>A direct connection to the former replica, for assertions about what it holds.</summary>
    public Task<ConnectionMultiplexer> ConnectReplicaAsync() => ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{ReplicaPort},allowAdmin=true");

    public async ValueTask DisposeAsync()
    {
        foreach (var sentinel in _sentinels) await sentinel.DisposeAsync();
        if (_hop is not null) await _hop.DisposeAsync();
        if (_replica is not null) await _replica.DisposeAsync();
        if (_primary is not null) await _primary.DisposeAsync();
        foreach (var dir in _dirs) try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
    }
}
