using Gateway.LegacySignIn;
using StackExchange.Redis;

namespace Gateway.Redis;

/// <summary>
/// The CMS's sessions (connect-redis keys, no gateway prefix) in the CMS's Redis: the gateway's own, or one of its own.
/// Beside them, under the gateway's key prefix, a sorted set of the CMS session ids the gateway holds, scored by when
/// their gateway session last used them: what the sweeper reads to end the CMS sessions of gateway sessions that
/// expired idle, and what revoke-all reads to end them all.
/// </summary>
internal sealed class RedisCmsSessionStore(RedisCalls redis, string keyPrefix) : ICmsSessionStore
{
    private readonly RedisKey _registry = keyPrefix + "cms-sessions";

    public Task WriteAsync(string key, string record, TimeSpan timeToLive, CancellationToken cancellationToken) =>
        redis.WriteAsync("cms.write", db => db.StringSetAsync(key, record, timeToLive), cancellationToken);

    public async Task<string?> ReadAsync(string key, CancellationToken cancellationToken) =>
        await redis.ReadAsync("cms.read", async db => (string?)await db.StringGetAsync(key), cancellationToken);

    public async Task<string?> TakeAsync(string key, CancellationToken cancellationToken) =>
        await redis.WriteAsync("cms.take", async db => (string?)await db.StringGetDeleteAsync(key), cancellationToken);

    public Task<bool> DeleteAsync(string key, CancellationToken cancellationToken) =>
        redis.WriteAsync("cms.delete", db => db.KeyDeleteAsync(key), cancellationToken);

    public async Task<string?> ReadAndNoteUseAsync(string key, string sessionId, DateTimeOffset now, CancellationToken cancellationToken) =>
        await redis.ReadAsync("cms.read", async db =>
        {
            // Both sent at once: one round trip. Repeating the note on a retry is harmless.
            var record = db.StringGetAsync(key);
            var noted = db.SortedSetAddAsync(_registry, sessionId, now.ToUnixTimeMilliseconds());
            await noted;
            return (string?)await record;
        }, cancellationToken);

    public Task NoteUseAsync(string sessionId, DateTimeOffset now, CancellationToken cancellationToken) =>
        redis.WriteAsync("cms.note", db => db.SortedSetAddAsync(_registry, sessionId, now.ToUnixTimeMilliseconds()), cancellationToken);

    public Task ForgetAsync(string sessionId, CancellationToken cancellationToken) =>
        redis.WriteAsync("cms.forget", db => db.SortedSetRemoveAsync(_registry, sessionId), cancellationToken);

    public async Task<IReadOnlyList<string>> UnusedSinceAsync(DateTimeOffset before, int count, CancellationToken cancellationToken) =>
        await redis.ReadAsync("cms.unused", async db =>
        {
            var max = before == DateTimeOffset.MaxValue ? double.PositiveInfinity : before.ToUnixTimeMilliseconds();
            var ids = await db.SortedSetRangeByScoreAsync(_registry, double.NegativeInfinity, max, Exclude.Stop, take: count);
            return (IReadOnlyList<string>)ids.Select(id => id.ToString()).ToList();
        }, cancellationToken);
}
