using Gateway.Logout;

namespace Gateway.Redis;

/// <summary>Deletes the CMS's own session keys (connect-redis <c>sess:&lt;id&gt;</c>) in the shared Redis.</summary>
internal sealed class RedisLegacySessionStore(RedisCalls redis) : ILegacySessionStore
{
    public Task<bool> DeleteAsync(string key, CancellationToken cancellationToken) =>
        redis.WriteAsync("legacy.delete", db => db.KeyDeleteAsync(key), cancellationToken);
}
