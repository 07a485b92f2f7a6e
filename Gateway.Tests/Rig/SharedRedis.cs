[assembly: AssemblyFixture(typeof(Gateway.Tests.Rig.SharedRedis))]

namespace Gateway.Tests.Rig;

/// <summary>One redis-server for the whole run; tests isolate themselves by key prefix.</summary>
public sealed class SharedRedis : IAsyncLifetime
{
    private RedisServer? _server;

    internal RedisServer Server => _server ?? throw new InvalidOperationException("Redis not started.");

    public string Configuration => Server.Configuration;

    public async ValueTask InitializeAsync() => _server = await RedisServer.StartAsync();

    public async ValueTask DisposeAsync()
    {
        if (_server is not null) await _server.DisposeAsync();
    }
}
