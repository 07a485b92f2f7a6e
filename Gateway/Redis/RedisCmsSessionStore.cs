using Gateway.LegacySignIn;
using StackExchange.Redis;

namespace Gateway.Redis;

/// <summary>The CMS's sessions (connect-redis keys, no gateway prefix) in the CMS's Redis: the gateway's own, or one of its own.</summary>
internal sealed class RedisCmsSessionStore(RedisCalls redis) : ICmsSessionStore
{
    public Task WriteAsync(string key, string record, TimeSpan timeToLive, CancellationToken cancellationToken) =>
        redis.WriteAsync("cms.write", db => db.StringSetAsync(key, record, timeToLive), cancellationToken);

    public async Task<string?> ReadAsync(string key, CancellationToken cancellationToken) =>
        await redis.ReadAsync("cms.read", async db => (string?)await db.StringGetAsync(key), cancellationToken);

    public Task<bool> DeleteAsync(string key, CancellationToken cancellationToken) =>
        redis.WriteAsync("cms.delete", db => db.KeyDeleteAsync(key), cancellationToken);
}
