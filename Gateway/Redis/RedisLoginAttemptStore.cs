using System.Globalization;
using Gateway.Login;
using StackExchange.Redis;

namespace Gateway.Redis;

/// <summary>Failed-login counters in Redis: one key per user name hash and per address block, each expiring with its window.</summary>
internal sealed class RedisLoginAttemptStore(RedisCalls redis) : ILoginAttemptStore
{
    // KEYS: counter. ARGV: window (ms). The window starts with the first attempt and is not extended by later ones.
    // A counter a Redis writer replaced with text counts nothing here (it would make INCR fail); each replica's own count still holds.
    private const string TakeScript = """
        local v = redis.call('GET', KEYS[1])
        if v and not tonumber(v) then return 0 end
        local n = redis.call('INCR', KEYS[1])
        if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
        return n
        """;

    // KEYS: counter. DECR keeps the key's expiry; a key that expired is not brought back as -1 without one.
    private const string GiveBackScript = """
        local n = tonumber(redis.call('GET', KEYS[1]))
        if n and n > 0 then return redis.call('DECR', KEYS[1]) end
        return 0
        """;

    public async Task<long[]> TakeAsync(IReadOnlyList<string> keys, TimeSpan window, CancellationToken cancellationToken)
    {
        var ms = ((long)window.TotalMilliseconds).ToString(CultureInfo.InvariantCulture);
        return await redis.WriteAsync("login.take", async db =>
        {
            // One script per key, sent together: the keys hash to different Redis Cluster slots.
            var counts = await Task.WhenAll(keys.Select(k => db.ScriptEvaluateAsync(TakeScript, [KeyOf(k)], [ms])));
            return counts.Select(c => (long)c).ToArray();
        }, cancellationToken);
    }

    public async Task GiveBackAsync(IReadOnlyList<string> keys, CancellationToken cancellationToken) =>
        await redis.WriteAsync("login.give_back", async db =>
        {
            await Task.WhenAll(keys.Select(k => db.ScriptEvaluateAsync(GiveBackScript, [KeyOf(k)])));
            return true;
        }, cancellationToken);

    private RedisKey KeyOf(string key) => redis.Key("login:" + key);
}
