using StackExchange.Redis;

namespace Gateway.Tests.Rig;

/// <summary>A real redis-server on a free loopback port with its own data folder. Can be stopped and restarted on the same port for outage tests.</summary>
internal sealed class RedisServer : IAsyncDisposable
{
    private readonly string _dataDir = Tools.NewTempDir("redis");
    private ServerProcess? _process;

    private readonly bool _persistent;

    private RedisServer(int port, bool persistent)
    {
        Port = port;
        _persistent = persistent;
    }

    public int Port { get; }

    public string Configuration => $"127.0.0.1:{Port}";

    /// <param name="persistent">Append-only with fsync on every write, so data survives a kill (outage tests).</param>
    public static async Task<RedisServer> StartAsync(bool persistent = false)
    {
        var server = new RedisServer(Tools.FreePort(), persistent);
        await server.StartAgainAsync();
        return server;
    }

    public async Task StartAgainAsync()
    {
        var exe = Tools.Require("redis-server", "apt-get install -y redis-server");
        _process = new ServerProcess(exe,
            ["--port", Port.ToString(), "--bind", "127.0.0.1", "--save", "", "--appendonly", _persistent ? "yes" : "no", "--appendfsync", "always", "--dir", _dataDir, "--protected-mode", "no"],
            readyMarker: "Ready to accept connections");
        await _process.WaitReadyAsync(TimeSpan.FromSeconds(15));
    }

    public async Task StopAsync()
    {
        if (_process is not null) await _process.DisposeAsync();
        _process = null;
    }

    /// <summary>Freezes the server (SIGSTOP): connections stay open and nothing answers, as a Redis that hangs.</summary>
    public Task PauseAsync() => SignalAsync("-STOP");

    /// <summary>Lets a paused server go on (SIGCONT).</summary>
    public Task ResumeAsync() => SignalAsync("-CONT");

    private async Task SignalAsync(string signal)
    {
        using var kill = System.Diagnostics.Process.Start("kill", [signal, _process!.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        await kill.WaitForExitAsync();
    }

    /// <summary>A direct connection for assertions about what is stored (not the gateway's code path).</summary>
    public async Task<ConnectionMultiplexer> ConnectAsync() =>
        await ConnectionMultiplexer.ConnectAsync($"{Configuration},allowAdmin=true");

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        try { Directory.Delete(_dataDir, recursive: true); } catch (IOException) { }
    }
}
