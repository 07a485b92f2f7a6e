using System.Text.Json;
using Gateway.Identity;
using StackExchange.Redis;

namespace Gateway.Redis;

/// <summary>Assertion signing keys in one Redis hash (<c>{prefix}signing-keys</c>: kid → JSON), shared by every replica.</summary>
internal sealed class RedisSigningKeyStore(RedisCalls redis) : ISigningKeyStore
{
    private RedisKey HashKey => redis.Key("signing-keys");

    public async Task<IReadOnlyList<StoredSigningKey>> LoadAsync(CancellationToken cancellationToken)
    {
        var entries = await redis.ReadAsync("keys.load", db => db.HashGetAllAsync(HashKey), cancellationToken);
        return entries.Select(e => JsonSerializer.Deserialize<StoredSigningKey>((string)e.Value!)!).ToList();
    }

    // KEYS: the hash. ARGV: kid, key JSON. Only into an empty hash.
    private const string AddFirstScript = """
        if redis.call('HLEN', KEYS[1]) > 0 then return 0 end
        redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
        return 1
        """;

    public async Task<bool> AddFirstAsync(StoredSigningKey key, CancellationToken cancellationToken) =>
        (long)await redis.WriteAsync("keys.add", db => db.ScriptEvaluateAsync(AddFirstScript, [HashKey], [key.Kid, JsonSerializer.Serialize(key)]), cancellationToken) == 1;

    public Task AddAsync(StoredSigningKey key, CancellationToken cancellationToken) =>
        redis.WriteAsync("keys.add", db => db.HashSetAsync(HashKey, key.Kid, JsonSerializer.Serialize(key), When.NotExists), cancellationToken);
}
