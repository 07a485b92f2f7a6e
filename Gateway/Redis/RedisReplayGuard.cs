using Gateway.Logout;
using StackExchange.Redis;

namespace Gateway.Redis;

/// <summary>Token ids in Redis with SET NX and a TTL, so a replay to any replica is refused.</summary>
internal sealed class RedisReplayGuard(RedisCalls redis) : IReplayGuard
{
    public Task<bool> TryUseAsync(string id, TimeSpan lifetime, CancellationToken cancellationToken) =>
        redis.WriteAsync("replay.use", db => db.StringSetAsync(redis.Key("jti:" + id), "1", lifetime, When.NotExists), cancellationToken);
}
