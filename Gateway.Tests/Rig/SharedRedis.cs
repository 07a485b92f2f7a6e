[assembly: AssemblyFixture(typeof(Gateway.Tests.Rig.SharedRedis))]

namespace Gateway.Tests.Rig;

/// <summary>One redis-server for the whole run; tests isolate themselves by key prefix.</summary>
public sealed class SharedRedis : IAsyncLifetime
{
    private RedisServer? _server;

    internal RedisServer Server => _server ?? throw new InvalidOperationException("Redis not started.");

    public string Configuration => Server.Configuration;

    public async ValueTask InitializeAsync()
    {
        _server = await RedisServer.StartAsync();
        // Nearly every gateway on this server shares its one DataProtection list. Gateways starting together on an empty
        // list could each create a key, and one that loaded the ring before another's key landed would refuse what that
        // one protected until its next refresh: the ring is made once here, before any test starts.
        await using var first = await GatewayHost.StartAsync(new GatewayConfig().WithRedis(Configuration));
    }

    public async ValueTask DisposeAsync()
    {
        if (_server is not null) await _server.DisposeAsync();
    }
}
