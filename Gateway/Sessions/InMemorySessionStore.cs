using System.Collections.Concurrent;

namespace Gateway.Sessions;

/// <summary>The embedded store for a single instance (development, demos). Same contract as the Redis store.</summary>
internal sealed class InMemorySessionStore(TimeProvider time) : ISessionStore
{
    private readonly ConcurrentDictionary<SessionKey, (byte[] Record, DateTimeOffset ExpiresAt)> _sessions = new();
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<SessionKey, byte>> _byUser = new(StringComparer.Ordinal);

    public Task CreateAsync(SessionKey key, byte[] record, TimeSpan ttl, CancellationToken cancellationToken)
    {
        _sessions[key] = (record, time.GetUtcNow() + ttl);
        _byUser.GetOrAdd(key.UserTag, _ => new())[key] = 0;
        return Task.CompletedTask;
    }

    public Task<byte[]?> GetAsync(SessionKey key, CancellationToken cancellationToken) =>
        Task.FromResult(TryGetLive(key, out var entry) ? entry.Record : null);

    public Task<bool> TouchAsync(SessionKey key, TimeSpan ttl, CancellationToken cancellationToken)
    {
        if (!TryGetLive(key, out var entry)) return Task.FromResult(false);
        _sessions.TryUpdate(key, (entry.Record, time.GetUtcNow() + ttl), entry);
        return Task.FromResult(true);
    }

    public Task<bool> DeleteAsync(SessionKey key, CancellationToken cancellationToken)
    {
        if (_byUser.TryGetValue(key.UserTag, out var index)) index.TryRemove(key, out _);
        var existed = _sessions.TryRemove(key, out var entry) && entry.ExpiresAt > time.GetUtcNow();
        return Task.FromResult(existed);
    }

    public Task<IReadOnlyList<SessionKey>> ListByUserAsync(string userTag, CancellationToken cancellationToken)
    {
        IReadOnlyList<SessionKey> keys = _byUser.TryGetValue(userTag, out var index)
            ? index.Keys.Where(k => TryGetLive(k, out _)).ToList()
            : [];
        return Task.FromResult(keys);
    }

    public async Task<IReadOnlyList<SessionKey>> DeleteByUserAsync(string userTag, CancellationToken cancellationToken)
    {
        var keys = await ListByUserAsync(userTag, cancellationToken);
        foreach (var key in keys) await DeleteAsync(key, cancellationToken);
        _byUser.TryRemove(userTag, out _);
        return keys;
    }

    public async Task<IReadOnlyList<SessionKey>> DeleteAllAsync(CancellationToken cancellationToken)
    {
        var deleted = new List<SessionKey>();
        foreach (var tag in _byUser.Keys) deleted.AddRange(await DeleteByUserAsync(tag, cancellationToken));
        return deleted;
    }

    private bool TryGetLive(SessionKey key, out (byte[] Record, DateTimeOffset ExpiresAt) entry)
    {
        if (_sessions.TryGetValue(key, out entry) && entry.ExpiresAt > time.GetUtcNow()) return true;
        if (entry.Record is not null) _sessions.TryRemove(key, out _);
        return false;
    }
}
