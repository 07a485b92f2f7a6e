using System.Globalization;
using Gateway.Login;
using StackExchange.Redis;

namespace Gateway.Redis;

/// <summary>Failed-login counters in Redis: one key per user name hash and per address block, each expiring with its window.</summary>
internal sealed class RedisLoginAttemptStore(RedisCalls redis) : ILoginAttemptStore
{
    // KEYS: counter. ARGV: window (ms). The window starts with the first failure and is not extended by later ones.
    private const string AddScript = """
        local n = redis.call('INCR', KEYS[1])
        if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
        return n
        """;

    public async Task<long[]> CountsAsync(IReadOnlyList<string> keys, CancellationToken cancellationToken) =>
        await redis.ReadAsync("login.counts", async db =>
        {
            // One GET per key, sent together: the keys hash to different Redis Cluster slots, so no MGET.
            var values = await Task.WhenAll(keys.Select(k => db.StringGetAsync(KeyOf(k))));
            // A counter a Redis writer replaced with text counts nothing here; each replica's own count still holds.
            return values.Select(v => v.TryParse(out long n) ? n : 0L).ToArray();
        }, cancellationToken);

    public async Task AddFailureAsync(IReadOnlyList<string> keys, TimeSpan window, CancellationToken cancellationToken)
    {
        var ms = ((long)window.TotalMilliseconds).ToString(CultureInfo.InvariantCulture);
        await redis.WriteAsync("login.fail", async db =>
        {
            await Task.WhenAll(keys.Select(k => db.ScriptEvaluateAsync(AddScript, [KeyOf(k)], [ms])));
            return true;
        }, cancellationToken);
    }

    private RedisKey KeyOf(string key) => redis.Key("login:" + key);
}
