using Gateway.Sessions;
using StackExchange.Redis;

namespace Gateway.Redis;

/// <summary>
/// Sessions in Redis. Layout, under the configured prefix (default <c>gw:</c>):
/// <c>gw:{u:TAG}:s:ID</c> the protected record (TTL = min(idle, absolute left)),
/// <c>gw:{u:TAG}:idx</c> the set of the user's session ids, <c>gw:users</c> the set of user tags.
/// The <c>{u:TAG}</c> hash tag keeps a user's keys in one Redis Cluster slot, so the scripts that
/// touch a record and its index together run atomically on a cluster too.
/// </summary>
internal sealed class RedisSessionStore(RedisCalls redis) : ISessionStore
{
    private const string CreateScript = """
        redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
        redis.call('SADD', KEYS[2], ARGV[3])
        if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[4]) then redis.call('PEXPIRE', KEYS[2], ARGV[4]) end
        return 1
        """;

    private const string DeleteScript = """
        local n = redis.call('DEL', KEYS[1])
        redis.call('SREM', KEYS[2], ARGV[1])
        return n
        """;

    // Keys of one user share the hash tag of KEYS[1], so building them from ARGV stays in one slot.
    private const string ListScript = """
        local live = {}
        for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
          if redis.call('EXISTS', ARGV[1] .. id) == 1 then table.insert(live, id) else redis.call('SREM', KEYS[1], id) end
        end
        return live
        """;

    private const string DeleteUserScript = """
        local deleted = {}
        for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
          if redis.call('DEL', ARGV[1] .. id) == 1 then table.insert(deleted, id) end
        end
        redis.call('DEL', KEYS[1])
        return deleted
        """;

    public async Task CreateAsync(SessionKey key, byte[] record, TimeSpan ttl, CancellationToken cancellationToken)
    {
        var maxIndexTtl = TimeSpan.FromDays(2);
        await redis.WriteAsync("session.create", db => db.ScriptEvaluateAsync(CreateScript,
            [SessionKeyOf(key), IndexKeyOf(key.UserTag)],
            [record, (long)ttl.TotalMilliseconds, key.Id, (long)Max(ttl, maxIndexTtl).TotalMilliseconds]), cancellationToken);
        await redis.WriteAsync("session.create", db => db.SetAddAsync(UsersKey, key.UserTag), cancellationToken);
    }

    public async Task<byte[]?> GetAsync(SessionKey key, CancellationToken cancellationToken)
    {
        var value = await redis.ReadAsync("session.get", db => db.StringGetAsync(SessionKeyOf(key)), cancellationToken);
        return value.IsNull ? null : (byte[]?)value;
    }

    public Task<bool> TouchAsync(SessionKey key, TimeSpan ttl, CancellationToken cancellationToken) =>
        redis.WriteAsync("session.touch", db => db.KeyExpireAsync(SessionKeyOf(key), ttl), cancellationToken);

    public async Task<bool> DeleteAsync(SessionKey key, CancellationToken cancellationToken)
    {
        var result = await redis.WriteAsync("session.delete", db => db.ScriptEvaluateAsync(DeleteScript,
            [SessionKeyOf(key), IndexKeyOf(key.UserTag)], [key.Id]), cancellationToken);
        return (long)result == 1;
    }

    public async Task<IReadOnlyList<SessionKey>> ListByUserAsync(string userTag, CancellationToken cancellationToken)
    {
        var result = await redis.WriteAsync("session.list", db => db.ScriptEvaluateAsync(ListScript,
            [IndexKeyOf(userTag)], [SessionPrefixOf(userTag)]), cancellationToken);
        return ToKeys(userTag, result);
    }

    public async Task<IReadOnlyList<SessionKey>> DeleteByUserAsync(string userTag, CancellationToken cancellationToken)
    {
        var result = await redis.WriteAsync("session.delete_user", db => db.ScriptEvaluateAsync(DeleteUserScript,
            [IndexKeyOf(userTag)], [SessionPrefixOf(userTag)]), cancellationToken);
        await redis.WriteAsync("session.delete_user", db => db.SetRemoveAsync(UsersKey, userTag), cancellationToken);
        return ToKeys(userTag, result);
    }

    public async Task<IReadOnlyList<SessionKey>> DeleteAllAsync(CancellationToken cancellationToken)
    {
        var tags = await redis.ReadAsync("session.users", db => db.SetMembersAsync(UsersKey), cancellationToken);
        var deleted = new List<SessionKey>();
        foreach (var tag in tags) deleted.AddRange(await DeleteByUserAsync(tag!, cancellationToken));
        return deleted;
    }

    private static List<SessionKey> ToKeys(string userTag, RedisResult result) =>
        ((RedisValue[])result!).Select(id => new SessionKey(userTag, id!)).ToList();

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    private RedisKey UsersKey => redis.Key("users");
    private RedisKey SessionKeyOf(SessionKey key) => redis.Key($"{{u:{key.UserTag}}}:s:{key.Id}");
    private string SessionPrefixOf(string userTag) => redis.Key($"{{u:{userTag}}}:s:");
    private RedisKey IndexKeyOf(string userTag) => redis.Key($"{{u:{userTag}}}:idx");
}
