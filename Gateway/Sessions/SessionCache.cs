using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using Gateway.Configuration;
using Gateway.Observability;
using Microsoft.Extensions.Options;

namespace Gateway.Sessions;

/// <summary>
/// Each replica's short-lived copy of session records, so a steady stream of requests needs no
/// store round trip. Revocations drop entries at once. While the revocation feed is down the cache
/// is not trusted at all (every request goes to the store), because a revocation could be missed.
/// </summary>
internal sealed partial class SessionCache(IOptions<GatewayOptions> options, GatewayMetrics metrics, TimeProvider time, ILogger<SessionCache> logger)
{
    private readonly ConcurrentDictionary<SessionKey, CachedSession> _entries = new();
    private readonly int _maxEntries = options.Value.Session.CacheMaxEntries;
    private readonly long _maxBytes = options.Value.Session.CacheMaxMegabytes * 1024L * 1024L;
    private long _bytes;
    // Kept beside the dictionary: its Count takes every one of its locks (up to 1024 once it has grown), which on a
    // full cache made each miss, and each entry an eviction dropped, pay for all of them.
    private int _count;
    private long _generation;
    private volatile bool _trusted = true;

    public bool IsTrusted => _trusted;

    public int Count => Volatile.Read(ref _count);

    /// <summary>The estimated memory of the cached entries (<see cref="CachedSession.EstimatedBytes"/>).</summary>
    public long EstimatedBytes => Interlocked.Read(ref _bytes);

    /// <summary>Read before a store fetch; <see cref="Set"/> refuses the result if a revocation came in between.</summary>
    public long Generation => Interlocked.Read(ref _generation);

    public bool TryGet(SessionKey key, DateTimeOffset now, [NotNullWhen(true)] out CachedSession? session)
    {
        if (_trusted && _entries.TryGetValue(key, out session))
        {
            if (session.CachedUntil > now)
            {
                metrics.CacheLookup(hit: true);
                return true;
            }
            Drop(key, session);
        }
        session = null;
        metrics.CacheLookup(hit: false);
        return false;
    }

    public void Set(CachedSession session, long generationAtFetch)
    {
        if (!_trusted || _maxEntries == 0 || session.EstimatedBytes > _maxBytes) return;
        if (Count >= _maxEntries || EstimatedBytes + session.EstimatedBytes > _maxBytes) Evict();
        // Not AddOrUpdate: its update callback may run more than once under contention, and must account exactly once.
        while (true)
        {
            if (_entries.TryGetValue(session.Key, out var previous))
            {
                if (!_entries.TryUpdate(session.Key, session, previous)) continue;
                Interlocked.Add(ref _bytes, session.EstimatedBytes - previous.EstimatedBytes);
                break;
            }
            if (_entries.TryAdd(session.Key, session))
            {
                Interlocked.Increment(ref _count);
                Interlocked.Add(ref _bytes, session.EstimatedBytes);
                break;
            }
        }
        // A revocation that raced with the fetch wins: drop what we just added.
        if (Generation != generationAtFetch) Drop(session.Key, session);
    }

    /// <summary>
    /// Makes room when full (by count or by memory): expired entries first; if live ones still fill it, entries go
    /// until a tenth of each limit is free (they are fetched again on their next request). A full cache never stops caching.
    /// </summary>
    private void Evict()
    {
        var now = time.GetUtcNow();
        foreach (var (key, entry) in _entries)
            if (entry.CachedUntil <= now) Drop(key, entry);
        foreach (var (key, entry) in _entries)
        {
            if (Count <= _maxEntries * 9L / 10 && EstimatedBytes <= _maxBytes * 9 / 10) break;
            Drop(key, entry);
        }
        metrics.CacheEvicted();
    }

    /// <summary>Removes exactly this entry (not a newer one under the same key) and releases its estimate.</summary>
    private void Drop(SessionKey key, CachedSession entry)
    {
        if (_entries.TryRemove(new KeyValuePair<SessionKey, CachedSession>(key, entry))) Released(entry);
    }

    private void DropKey(SessionKey key)
    {
        if (_entries.TryRemove(key, out var entry)) Released(entry);
    }

    private void Released(CachedSession entry)
    {
        Interlocked.Decrement(ref _count);
        Interlocked.Add(ref _bytes, -entry.EstimatedBytes);
    }

    private void DropAll()
    {
        foreach (var (key, entry) in _entries) Drop(key, entry);
    }

    /// <summary>The cached copy, if any, without counting a lookup or checking its age (the warm-up checks its own entry is still there).</summary>
    public CachedSession? Peek(SessionKey key) => _entries.TryGetValue(key, out var session) ? session : null;

    public void Remove(SessionKey key)
    {
        Interlocked.Increment(ref _generation);
        DropKey(key);
    }

    /// <summary>Raised for every revocation this replica applies (its own and other replicas'), after the cache dropped them.</summary>
    public event Action<SessionRevocation>? Revoked;

    public void Apply(SessionRevocation revocation)
    {
        ApplyToCache(revocation);
        Revoked?.Invoke(revocation);
    }

    private void ApplyToCache(SessionRevocation revocation)
    {
        Interlocked.Increment(ref _generation);
        if (revocation.All)
        {
            DropAll();
            return;
        }
        var hashes = revocation.SessionHashes.Concat(revocation.ChangedHashes).ToHashSet(StringComparer.Ordinal);
        var users = revocation.UserTags.ToHashSet(StringComparer.Ordinal);
        foreach (var (key, entry) in _entries)
            if (hashes.Contains(entry.ShortHash) || users.Contains(key.UserTag)) DropKey(key);
    }

    public void Distrust(string reason)
    {
        _trusted = false;
        Interlocked.Increment(ref _generation);
        DropAll();
        LogDistrusted(logger, reason);
    }

    public void Trust(string reason)
    {
        Interlocked.Increment(ref _generation);
        DropAll();
        _trusted = true;
        LogTrusted(logger, reason);
    }

    [LoggerMessage(EventId = LogEvents.SessionCacheDistrusted, EventName = nameof(LogEvents.SessionCacheDistrusted), Level = LogLevel.Warning,
        Message = "Session cache distrusted, every request reads the store: {Reason}")]
    private static partial void LogDistrusted(ILogger logger, string reason);

    [LoggerMessage(EventId = LogEvents.SessionCacheTrusted, EventName = nameof(LogEvents.SessionCacheTrusted), Level = LogLevel.Information,
        Message = "Session cache trusted again: {Reason}")]
    private static partial void LogTrusted(ILogger logger, string reason);
}
