using System.Collections.Concurrent;

namespace Gateway.Sessions;

/// <summary>The embedded store for a single instance (development, demos). Same contract as the Redis store.</summary>
internal sealed class InMemorySessionStore(TimeProvider time) : ISessionStore
{
    private readonly ConcurrentDictionary<SessionHandle, (byte[] Record, DateTimeOffset ExpiresAt)> _sessions = new();
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<SessionHandle, byte>> _byUser = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, DateTimeOffset> _revokedBefore = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<SessionHandle, DateTimeOffset> _lastUsed = new();
    private const string Everyone = "*";

    public Task<int> CreateAsync(SessionHandle session, byte[] record, TimeSpan ttl, CancellationToken cancellationToken)
    {
        _sessions[session] = (record, time.GetUtcNow() + ttl);
        _lastUsed[session] = time.GetUtcNow();
        var index = _byUser.GetOrAdd(session.UserTag, _ => new());
        index[session] = 0;
        return Task.FromResult(index.Keys.Count(h => TryGetLive(h, out _)));
    }

    public async Task<IReadOnlyList<StoredSession?>> GetManyAsync(string userTag, IReadOnlyList<SessionHandle> sessions, CancellationToken cancellationToken)
    {
        var result = new StoredSession?[sessions.Count];
        for (var i = 0; i < sessions.Count; i++) result[i] = await GetAsync(sessions[i], cancellationToken);
        return result;
    }

    public Task<StoredSession?> GetAsync(SessionHandle session, CancellationToken cancellationToken)
    {
        if (!TryGetLive(session, out var entry)) return Task.FromResult<StoredSession?>(null);
        DateTimeOffset? marker = null;
        foreach (var scope in new[] { session.UserTag, Everyone })
            if (_revokedBefore.TryGetValue(scope, out var at) && (marker is null || at > marker)) marker = at;
        return Task.FromResult<StoredSession?>(new StoredSession(entry.Record, marker));
    }

    public async Task<SessionRead[]> GetEachAsync(IReadOnlyList<SessionHandle> sessions, CancellationToken cancellationToken)
    {
        var reads = new SessionRead[sessions.Count];
        for (var i = 0; i < sessions.Count; i++) reads[i] = new SessionRead(await GetAsync(sessions[i], cancellationToken), Failed: false);
        return reads;
    }

    public Task<SlideOutcome[]> TouchAsync(IReadOnlyList<SessionSlide> slides, CancellationToken cancellationToken)
    {
        var outcomes = new SlideOutcome[slides.Count];
        for (var i = 0; i < slides.Count; i++) outcomes[i] = Touch(slides[i].Session, slides[i].Ttl) ? SlideOutcome.Slid : SlideOutcome.Gone;
        return Task.FromResult(outcomes);
    }

    private bool Touch(SessionHandle session, TimeSpan ttl)
    {
        if (!TryGetLive(session, out var entry)) return false;
        _sessions.TryUpdate(session, (entry.Record, time.GetUtcNow() + ttl), entry);
        _lastUsed[session] = time.GetUtcNow();
        return true;
    }

    private readonly ConcurrentDictionary<(SessionHandle, string), (string Holder, DateTimeOffset Until)> _locks = new();

    public Task<bool> ReplaceAsync(SessionHandle session, byte[] record, CancellationToken cancellationToken)
    {
        if (!TryGetLive(session, out var entry)) return Task.FromResult(false);
        return Task.FromResult(_sessions.TryUpdate(session, (record, entry.ExpiresAt), entry));
    }

    public Task<string?> TryLockAsync(SessionHandle session, string purpose, TimeSpan ttl, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var holder = Guid.NewGuid().ToString("N");
        var result = _locks.AddOrUpdate((session, purpose), (holder, now + ttl), (_, held) => held.Until > now ? held : (holder, now + ttl));
        return Task.FromResult<string?>(result.Holder == holder ? holder : null);
    }

    public Task UnlockAsync(SessionHandle session, string purpose, string holder, CancellationToken cancellationToken)
    {
        if (_locks.TryGetValue((session, purpose), out var held) && held.Holder == holder)
            _locks.TryRemove(new KeyValuePair<(SessionHandle, string), (string, DateTimeOffset)>((session, purpose), held));
        return Task.CompletedTask;
    }

    public Task<bool> DeleteAsync(SessionHandle session, CancellationToken cancellationToken)
    {
        if (_byUser.TryGetValue(session.UserTag, out var index)) index.TryRemove(session, out _);
        _lastUsed.TryRemove(session, out _);
        var existed = _sessions.TryRemove(session, out var entry) && entry.ExpiresAt > time.GetUtcNow();
        return Task.FromResult(existed);
    }

    public Task<byte[]?> TakeAsync(SessionHandle session, CancellationToken cancellationToken)
    {
        if (_byUser.TryGetValue(session.UserTag, out var index)) index.TryRemove(session, out _);
        _lastUsed.TryRemove(session, out _);
        return Task.FromResult(_sessions.TryRemove(session, out var entry) && entry.ExpiresAt > time.GetUtcNow() ? entry.Record : null);
    }

    public Task<IReadOnlyList<IndexedSession>> ListByUserAsync(string userTag, int max, CancellationToken cancellationToken)
    {
        IReadOnlyList<IndexedSession> sessions = _byUser.TryGetValue(userTag, out var index)
            ? index.Keys.Where(k => TryGetLive(k, out _))
                .Select(k => new IndexedSession(k, _lastUsed.TryGetValue(k, out var at) ? at : DateTimeOffset.UnixEpoch))
                .OrderBy(s => s.LastUsed).Take(max).ToList()
            : [];
        return Task.FromResult(sessions);
    }

    public async Task<int> DeleteByUserAsync(string userTag, DateTimeOffset revokedBefore, TimeSpan markerLifetime, CancellationToken cancellationToken)
    {
        _revokedBefore.AddOrUpdate(userTag, revokedBefore, (_, at) => at > revokedBefore ? at : revokedBefore);
        return await DeleteIndexedAsync(userTag, cancellationToken);
    }

    public async Task<int> DeleteAllAsync(DateTimeOffset revokedBefore, TimeSpan markerLifetime, CancellationToken cancellationToken)
    {
        _revokedBefore.AddOrUpdate(Everyone, revokedBefore, (_, at) => at > revokedBefore ? at : revokedBefore);
        var deleted = 0;
        foreach (var tag in _byUser.Keys) deleted += await DeleteIndexedAsync(tag, cancellationToken);
        return deleted;
    }

    public Task<DateTimeOffset> NowAsync(CancellationToken cancellationToken) => Task.FromResult(time.GetUtcNow());

    public Task MarkRevokedAsync(string? userTag, DateTimeOffset revokedBefore, TimeSpan markerLifetime, CancellationToken cancellationToken)
    {
        _revokedBefore.AddOrUpdate(userTag ?? Everyone, revokedBefore, (_, at) => Later(at, revokedBefore));
        return Task.CompletedTask;
    }

    private static DateTimeOffset Later(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;

    private async Task<int> DeleteIndexedAsync(string userTag, CancellationToken cancellationToken)
    {
        if (!_byUser.TryRemove(userTag, out var index)) return 0;
        var deleted = 0;
        foreach (var session in index.Keys)
            if (await DeleteAsync(session, cancellationToken)) deleted++;
        return deleted;
    }

    private bool TryGetLive(SessionHandle session, out (byte[] Record, DateTimeOffset ExpiresAt) entry)
    {
        if (_sessions.TryGetValue(session, out entry) && entry.ExpiresAt > time.GetUtcNow()) return true;
        if (entry.Record is not null) _sessions.TryRemove(session, out _);
        return false;
    }

    /// <summary>One process, no replicas: nothing to confirm.</summary>
    public Task ConfirmAsync(string userTag, CancellationToken cancellationToken) => Task.CompletedTask;
}
