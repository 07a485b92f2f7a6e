using Gateway.LegacySignIn;
using Gateway.Configuration;
using Gateway.Observability;
using Microsoft.Extensions.Options;
using Gateway.Health;
using Gateway.Identity;
using Gateway.Logout;
using Gateway.Sessions;
using Microsoft.AspNetCore.DataProtection;

namespace Gateway.Redis;

/// <summary>
/// The shared-Redis storage choice: sessions, revocations, signing keys, replay markers, the CMS's
/// legacy sessions and the DataProtection key ring (Microsoft's <c>PersistKeysToStackExchangeRedis</c>,
/// one list of key XML elements). Registered only when <c>Gateway:Redis:Configuration</c> is set;
/// the in-memory defaults for a single instance are added after it with TryAdd.
/// </summary>
internal static class RedisStoreRegistration
{
    public static IServiceCollection AddGatewayRedisStore(this IServiceCollection services, RedisOptions redis, IDataProtectionBuilder dataProtection)
    {
        services.AddGatewaySection(o => o.Redis);
        services.AddGatewaySection(o => o.Session);
        services.AddSingleton<RedisConnection>();
        services.AddSingleton(sp =>
        {
            var options = sp.GetRequiredService<IOptions<RedisOptions>>().Value;
            // Its own connection (WAIT blocks the connection it is sent on), whose client timeout leaves WAIT its time.
            var connection = new RedisConnection(options, options.Configuration!, "gateway-acked", sp.GetRequiredService<ILogger<RedisConnection>>(),
                sp.GetRequiredService<GatewayMetrics>(), observe: false,
                commandTimeout: options.OperationTimeout + options.WaitTimeout, password: options.Password,
                follows: sp.GetRequiredService<RedisConnection>());
            return new ReplicaAcknowledgements(connection, options, sp.GetRequiredService<GatewayMetrics>(), sp.GetRequiredService<TimeProvider>(),
                sp.GetRequiredService<ILogger<ReplicaAcknowledgements>>());
        });
        services.AddSingleton<RedisCalls>();
        services.AddSingleton<HeldGlobalMark>();
        services.AddSingleton<ISessionStore, RedisSessionStore>();
        services.AddSingleton<RedisRevocationBus>();
        services.AddSingleton<ISessionRevocationBus>(sp => sp.GetRequiredService<RedisRevocationBus>());
        services.AddHostedService(sp => sp.GetRequiredService<RedisRevocationBus>());
        services.AddSingleton<RedisChangeLog>();
        services.AddHostedService(sp => sp.GetRequiredService<RedisChangeLog>());
        services.AddSingleton<IStoreReadiness, RedisReadiness>();
        services.AddSingleton<ISigningKeyStore, RedisSigningKeyStore>();
        services.AddSingleton<ILegacySessionStore, RedisLegacySessionStore>();
        services.AddSingleton<IReplayGuard, RedisReplayGuard>();
        services.AddSingleton<Login.ILoginAttemptStore, RedisLoginAttemptStore>();
        // Microsoft's repository (what PersistKeysToStackExchangeRedis registers), given the process's one multiplexer
        // from DI rather than a factory captured at registration.
        dataProtection.Services.AddOptions<Microsoft.AspNetCore.DataProtection.KeyManagement.KeyManagementOptions>()
            .Configure<RedisConnection>((o, connection) =>
                o.XmlRepository = new Microsoft.AspNetCore.DataProtection.StackExchangeRedis.RedisXmlRepository(connection.Database, redis.DataProtectionKey));
        return services;
    }

    /// <summary>
    /// The CMS's session store for <c>Gateway:LegacySignIn</c>: on the gateway's own connection when the CMS shares its
    /// Redis, else on a connection of its own (its own circuit breaker too: one Redis down does not open the other's).
    /// </summary>
    private static string KeyPrefix(IServiceProvider services) => services.GetRequiredService<IOptions<RedisOptions>>().Value.KeyPrefix;

    public static IServiceCollection AddCmsRedisStore(this IServiceCollection services, string? cmsConfiguration)
    {
        if (string.IsNullOrWhiteSpace(cmsConfiguration))
        {
            services.AddSingleton<ICmsSessionStore>(sp => new RedisCmsSessionStore(sp.GetRequiredService<RedisCalls>(), KeyPrefix(sp)));
            return services;
        }
        services.AddSingleton<ICmsSessionStore>(sp =>
        {
            var options = sp.GetRequiredService<IOptions<RedisOptions>>().Value;
            var metrics = sp.GetRequiredService<GatewayMetrics>();
            var connection = new RedisConnection(options, cmsConfiguration, "gateway-cms", sp.GetRequiredService<ILogger<RedisConnection>>(), metrics, observe: false);
            return new RedisCmsSessionStore(new RedisCalls(connection, options, metrics, sp.GetRequiredService<TimeProvider>()), KeyPrefix(sp));
        });
        return services;
    }
}
