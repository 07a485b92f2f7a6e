using System.Globalization;
using Gateway.Login;
using StackExchange.Redis;

namespace Gateway.Redis;

/// <summary>Failed-login counters in Redis: one key per user name hash and per address block, each expiring with its window.</summary>
internal sealed class RedisLoginAttemptStore(RedisCalls redis) : ILoginAttemptStore
{
    // KEYS: counter. ARGV: window (ms), limit. The value is "count|window end (ms, by Redis TIME)": the window's id, so a
    // give-back lands only in the window its attempt was counted in. A key at its limit counts nothing. A value that is
    // not ours (a Redis writer set text) counts nothing either; each replica's own count still holds.
    private const string TakeScript = """
        local v = redis.call('GET', KEYS[1])
        local n, w = 0, nil
        if v then
          local a, b = string.match(v, '^(%d+)|(%d+)$')
          if not a then return {0, 0} end
          n, w = tonumber(a), b
        end
        if n >= tonumber(ARGV[2]) then return {n + 1, 0} end
        if not w then
          local t = redis.call('TIME')
          w = string.format('%d', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[1]))
          redis.call('SET', KEYS[1], string.format('%d|%s', n + 1, w), 'PX', ARGV[1])
        else
          redis.call('SET', KEYS[1], string.format('%d|%s', n + 1, w), 'KEEPTTL')
        end
        return {n + 1, w}
        """;

    // KEYS: counter. ARGV: the window the attempt was counted in. Never below zero, never into a later window.
    private const string GiveBackScript = """
        local v = redis.call('GET', KEYS[1])
        if not v then return 0 end
        local a, b = string.match(v, '^(%d+)|(%d+)$')
        if not a or b ~= ARGV[1] or tonumber(a) == 0 then return 0 end
        redis.call('SET', KEYS[1], string.format('%d|%s', tonumber(a) - 1, b), 'KEEPTTL')
        return 1
        """;

    public async Task<LoginAttemptStoreTake[]> TakeAsync(IReadOnlyList<string> keys, IReadOnlyList<int> limits, TimeSpan window, CancellationToken cancellationToken)
    {
        var ms = ((long)window.TotalMilliseconds).ToString(CultureInfo.InvariantCulture);
        return await redis.WriteAsync("login.take", async db =>
        {
            // One script per key, sent together: the keys hash to different Redis Cluster slots.
            var results = await Task.WhenAll(keys.Select((k, i) => db.ScriptEvaluateAsync(TakeScript, [KeyOf(k)], [ms, limits[i]])));
            return results.Select(r =>
            {
                var pair = (RedisResult[])r!;
                return new LoginAttemptStoreTake((long)pair[0], long.TryParse((string?)pair[1], NumberStyles.None, CultureInfo.InvariantCulture, out var w) ? w : 0);
            }).ToArray();
        }, cancellationToken);
    }

    public async Task GiveBackAsync(IReadOnlyList<string> keys, IReadOnlyList<long> windows, CancellationToken cancellationToken) =>
        await redis.WriteAsync("login.give_back", async db =>
        {
            await Task.WhenAll(keys.Select((k, i) => (k, w: windows[i])).Where(x => x.w > 0)
                .Select(x => db.ScriptEvaluateAsync(GiveBackScript, [KeyOf(x.k)], [x.w.ToString(CultureInfo.InvariantCulture)])));
            return true;
        }, cancellationToken);

    private RedisKey KeyOf(string key) => redis.Key("login:" + key);
}
