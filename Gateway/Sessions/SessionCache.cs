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
    private long _generation;
    private volatile bool _trusted = true;

    public bool IsTrusted => _trusted;

    public int Count => _entries.Count;

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
            _entries.TryRemove(new KeyValuePair<SessionKey, CachedSession>(key, session));
        }
        session = null;
        metrics.CacheLookup(hit: false);
        return false;
    }

    public void Set(CachedSession session, long generationAtFetch)
    {
        if (!_trusted || _maxEntries == 0) return;
        if (_entries.Count >= _maxEntries) Evict();
        _entries[session.Key] = session;
        // A revocation that raced with the fetch wins: drop what we just added.
        if (Generation != generationAtFetch) _entries.TryRemove(session.Key, out _);
    }

    /// <summary>
    /// Makes room when full: expired entries first; if live ones still fill it, a tenth of them go (they are
    /// fetched again on their next request). A full cache never stops caching.
    /// </summary>
    private void Evict()
    {
        var now = time.GetUtcNow();
        foreach (var (key, entry) in _entries)
            if (entry.CachedUntil <= now) _entries.TryRemove(new KeyValuePair<SessionKey, CachedSession>(key, entry));
        var excess = _entries.Count - _maxEntries * 9 / 10;
        foreach (var key in _entries.Keys)
        {
            if (excess-- <= 0) break;
            _entries.TryRemove(key, out _);
        }
        metrics.CacheEvicted();
    }

    /// <summary>The cached copy, if any, without counting a lookup or checking its age (for reading tokens before a revocation).</summary>
    public CachedSession? Peek(SessionKey key) => _entries.TryGetValue(key, out var session) ? session : null;

    public void Remove(SessionKey key)
    {
        Interlocked.Increment(ref _generation);
        _entries.TryRemove(key, out _);
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
            _entries.Clear();
            return;
        }
        var hashes = revocation.SessionHashes.Concat(revocation.ChangedHashes).ToHashSet(StringComparer.Ordinal);
        var users = revocation.UserTags.ToHashSet(StringComparer.Ordinal);
        foreach (var (key, entry) in _entries)
            if (hashes.Contains(entry.ShortHash) || users.Contains(key.UserTag)) _entries.TryRemove(key, out _);
    }

    public void Distrust(string reason)
    {
        _trusted = false;
        Interlocked.Increment(ref _generation);
        _entries.Clear();
        LogDistrusted(logger, reason);
    }

    public void Trust(string reason)
    {
        Interlocked.Increment(ref _generation);
        _entries.Clear();
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
