using Gateway.Logout;

namespace Gateway.Redis;

/// <summary>Token ids in Redis with a TTL, so a replay to any replica is refused.</summary>
internal sealed class RedisReplayGuard(RedisCalls redis) : IReplayGuard
{
    public Task<bool> IsUsedAsync(string id, CancellationToken cancellationToken) =>
        redis.ReadAsync("replay.check", db => db.KeyExistsAsync(redis.Key("jti:" + id)), cancellationToken);

    public Task MarkUsedAsync(string id, TimeSpan lifetime, CancellationToken cancellationToken) =>
        redis.WriteAsync("replay.mark", db => db.StringSetAsync(redis.Key("jti:" + id), "1", lifetime), cancellationToken);
}
