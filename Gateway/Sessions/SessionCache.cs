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
/// Bounded by count and by memory. When memory runs short, entries not read since the cache last looked first let go
/// of what a request can rebuild from the record (<see cref="CachedSession.TryShed"/>): an idle session then costs
/// about a third of one in use, so a full cache keeps far more users out of the store's way.
/// </summary>
internal sealed partial class SessionCache(IOptions<GatewaySessionOptions> options, GatewayMetrics metrics, TimeProvider time, ILogger<SessionCache> logger,
    VerifiedCookieMemo? memo = null, SessionChangeLog? changeLog = null)
{
    private readonly SessionChangeLog? _changeLog = changeLog is { Enabled: true } ? changeLog : null;
    private readonly ConcurrentDictionary<SessionKey, CachedSession> _entries = new();
    private readonly int _maxEntries = options.Value.CacheMaxEntries;
    private readonly long _maxBytes = options.Value.CacheMaxMegabytes * 1024L * 1024L;
    private readonly TimeSpan _idleTimeout = options.Value.IdleTimeout;
    private long _bytes;
    // Kept beside the dictionary: its Count takes every one of its locks (up to 1024 once it has grown), which on a
    // full cache made each miss, and each entry an eviction dropped, pay for all of them.
    private int _count;
    private long _generation;
    private volatile bool _trusted = true;
    // One eviction at a time: requests that find the cache full while one runs go on without waiting for it (their
    // entry is cached while the cache is within HardSlack of its limits, else not this time). Only a woken entry past
    // that waits its turn, since its request has already taken the memory back.
    private readonly Lock _eviction = new();
    // The clock hand: where the last look over the entries stopped, so the next one goes on from there instead of
    // walking again the entries the last one had just marked or shed. Moved only by the one eviction running.
    private IEnumerator<KeyValuePair<SessionKey, CachedSession>>? _hand;
    // Set when every entry goes (a revoke-all, a change of trust): the hand's enumerator would keep them reachable.
    private volatile bool _handStale;

    public bool IsTrusted => _trusted;

    public int Count => Volatile.Read(ref _count);

    /// <summary>The estimated memory of the cached entries (<see cref="CachedSession.EstimatedBytes"/>).</summary>
    public long EstimatedBytes => Interlocked.Read(ref _bytes);

    /// <summary>Read before a store fetch; <see cref="Set"/> refuses the result if a revocation came in between.</summary>
    public long Generation => Interlocked.Read(ref _generation);

    /// <summary>Read before a store fetch, beside <see cref="Generation"/>: the change log's epoch the entry it builds or keeps is vouched for under (0 without the log).</summary>
    public int LogEpoch => _changeLog?.Epoch ?? 0;

    public bool TryGet(SessionKey key, DateTimeOffset now, [NotNullWhen(true)] out CachedSession? session) => TryGet(key, now, out session, out _);

    /// <param name="stale">On a miss, the entry whose cached time ran out, when a store read may keep it
    /// (<see cref="Revalidate"/>): it stays in the cache until the caller has read the store.</param>
    public bool TryGet(SessionKey key, DateTimeOffset now, [NotNullWhen(true)] out CachedSession? session, out CachedSession? stale)
    {
        stale = null;
        if (_trusted && _entries.TryGetValue(key, out session))
        {
            if (session.CachedUntil > now || VouchedFor(session, now))
            {
                Woken(session);
                metrics.CacheLookup(hit: true);
                return true;
            }
            if (session.Revalidatable(now)) stale = session;
            else Drop(key, session);
        }
        session = null;
        metrics.CacheLookup(hit: false);
        return false;
    }

    // Past its cached time, an entry the change log vouches for is served as a store read would keep it, until then.
    private bool VouchedFor(CachedSession session, DateTimeOffset now)
    {
        if (_changeLog?.Vouches(session, now) is not { } until || !session.TryExtend(until, byRequest: false)) return false;
        metrics.ChangeLogVouched();
        return true;
    }

    // Waking a shed entry takes memory back: past the budget, room is made as for a new entry, before the memory is
    // counted. A wake that would pass the slack waits for the eviction running; counted first, its bytes stood past the
    // slack through that wait, beside the entries the other requests added meanwhile (each thread then held an entry and
    // a wake past the check: 1 run in 6 of ResourceExhaustionTests' 8 threads found the cache past its bound).
    private void Woken(CachedSession session)
    {
        if (!session.MarkUsed()) return;
        var after = EstimatedBytes + session.DerivedBytes;
        if (after > _maxBytes && !TryEvict() && PastSlack(after))
        {
            lock (_eviction)
            {
                if (!HasRoom()) Evict();
            }
        }
        Interlocked.Add(ref _bytes, session.DerivedBytes);
    }

    /// <summary>
    /// Keeps <paramref name="stale"/> for another <c>CacheDuration</c> after a store read found its record unchanged
    /// (<see cref="CachedSession.StillHolds"/>). False, and the caller builds the entry afresh, when it left the cache
    /// meanwhile or a revocation or change of trust came in since <paramref name="generationAtFetch"/>.
    /// </summary>
    public bool Revalidate(CachedSession stale, long generationAtFetch, DateTimeOffset cachedUntil, int logEpoch = 0, DateTimeOffset sentAt = default)
    {
        if (!_trusted || Generation != generationAtFetch || !IsCached(stale) || !stale.TryExtend(cachedUntil, byRequest: true)) return false;
        stale.NoteStoreRead(logEpoch, sentAt);
        Woken(stale);
        // A revocation that raced with the fetch wins, as in Set.
        if (Generation != generationAtFetch)
        {
            Drop(stale.Key, stale);
            return false;
        }
        metrics.CacheRevalidated();
        return true;
    }

    private bool IsCached(CachedSession entry) => _entries.TryGetValue(entry.Key, out var current) && ReferenceEquals(current, entry);

    /// <summary>
    /// Entries a request used within their last <see cref="CachedSession.ReadAheadWindow"/> reads ahead, not ended, whose
    /// cached time runs out within <paramref name="within"/> of <paramref name="now"/> (not yet out: past it, the request
    /// reads the store itself). Each is claimed, so one look hands it out once; <see cref="SessionRefreshes"/> reads them ahead.
    /// </summary>
    internal void CollectDue(DateTimeOffset now, TimeSpan within, List<CachedSession> due)
    {
        if (!_trusted) return;
        var horizon = now + within;
        foreach (var (_, entry) in _entries)
        {
            var until = entry.CachedUntil;
            // An entry idle past its timeout is refused by its next request whatever the store shows: no read for it.
            // One the change log will vouch for needs no read: if the log breaks meanwhile, its request reads the store.
            if (until > now && until <= horizon && entry.Revalidatable(now) && !entry.Ended(now, _idleTimeout)
                && _changeLog?.WouldVouch(entry, now, horizon) != true && entry.TryClaimReadAhead())
                due.Add(entry);
        }
    }

    /// <summary>
    /// Keeps <paramref name="entry"/> for another <c>CacheDuration</c> after a background read found its record unchanged,
    /// as <see cref="Revalidate"/> does for a request, but counted as no read: a shed entry stays shed. False when it left
    /// the cache meanwhile. No generation is compared (any revocation anywhere moves it, and would cost whole batches
    /// their reads): every revocation, change of trust and revoke-all retires the entries it covers, and a retired entry
    /// is never extended; one that came after the read retires the entry after it was extended.
    /// </summary>
    public bool Refresh(CachedSession entry, DateTimeOffset cachedUntil, int logEpoch = 0, DateTimeOffset sentAt = default)
    {
        if (!_trusted || !IsCached(entry) || !entry.TryExtend(cachedUntil, byRequest: false)) return false;
        entry.NoteStoreRead(logEpoch, sentAt);
        return true;
    }

    /// <summary>
    /// Drops exactly <paramref name="stale"/> (the store no longer holds what it was built from). A session found
    /// <paramref name="ended"/> (gone, revoked) also leaves the memo; one whose record changed keeps its cookie there.
    /// </summary>
    public void Discard(CachedSession stale, bool ended = false) => Drop(stale.Key, stale, forgetCookie: ended);

    public void Set(CachedSession session, long generationAtFetch)
    {
        // A retired entry (dropped by a revocation, say) never comes back: it would count nothing when dropped again.
        if (!_trusted || _maxEntries == 0 || session.EstimatedBytes > _maxBytes || session.State == CachedSession.Residency.Retired) return;
        if (Count >= _maxEntries || EstimatedBytes + session.EstimatedBytes > _maxBytes)
        {
            // Another request is making room: this one does not wait for it, and is cached only within the slack.
            if (!TryEvict() && (Count >= _maxEntries + _maxEntries / HardSlack || PastSlack(EstimatedBytes + session.EstimatedBytes))) return;
        }
        // Not AddOrUpdate: its update callback may run more than once under contention, and must account exactly once.
        while (true)
        {
            if (_entries.TryGetValue(session.Key, out var previous))
            {
                if (ReferenceEquals(previous, session)) break;
                if (!_entries.TryUpdate(session.Key, session, previous)) continue;
                Interlocked.Add(ref _bytes, session.EstimatedBytes - previous.Retire(out _));
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
    /// Makes room when full (by count or by memory), until a tenth of each limit is free: entries past their cached time
    /// first (all of those no store read could keep, the rest while room is short); then, short of memory, idle entries
    /// are shed (second chance: one read since the last look keeps an entry whole); then entries go, shed ones first
    /// (they are fetched again on their next request). A full cache never stops caching.
    /// </summary>
    private bool TryEvict()
    {
        if (!_eviction.TryEnter()) return false;
        try
        {
            // An eviction that just finished made room for this request too.
            if (!HasRoom()) Evict();
        }
        finally
        {
            _eviction.Exit();
        }
        return true;
    }

    // How far past its limits the cache may go while an eviction runs: a twentieth of each.
    private const int HardSlack = 20;

    private bool PastSlack(long bytes) => bytes > _maxBytes + _maxBytes / HardSlack;

    private void Evict()
    {
        var now = time.GetUtcNow();
        // Past its cached time an entry still spares its next request the rebuild (a read keeps it), unless its session is
        // over here: those all go. The rest go while room is short, before anything is shed: either way their next
        // request reads the store, while shedding costs a fresh entry its rebuild. Keeping them all and shedding first
        // measured 27 % of requests served without a read at 1M sessions on a Cluster, against 67 % this way.
        // One the change log vouches for is not past its time: its next request is served without a read, as a fresh one's.
        foreach (var (key, entry) in _entries)
            if (entry.CachedUntil <= now && (entry.Ended(now, _idleTimeout)
                || (_changeLog?.WouldVouch(entry, now, now) != true && (!entry.Revalidatable(now) || !HasRoom()))))
                Drop(key, entry, forgetCookie: true);
        // Two looks: the first marks idle what was read since the last one (all of it, the first time the cache
        // fills), the second sheds what was not read in between. Shedding costs a woken session a cookie check, its
        // header values and its assertion spelled out again from the seal it kept (a signature once that is due);
        // dropping costs it a store round trip and a signature.
        if (!HasRoom()) ShedIdle(untilRoom: true);
        if (!HasRoom()) ShedIdle(untilRoom: true);
        foreach (var (key, entry) in _entries)
        {
            if (HasRoom()) break;
            if (entry.State == CachedSession.Residency.Shed) Drop(key, entry, forgetCookie: true);
        }
        foreach (var (key, entry) in _entries)
        {
            if (HasRoom()) break;
            Drop(key, entry, forgetCookie: true);
        }
        metrics.CacheEvicted();
    }

    private bool HasRoom() => Count <= _maxEntries * 9L / 10 && HasByteRoom();

    private bool HasByteRoom() => EstimatedBytes <= _maxBytes * 9 / 10;

    /// <summary>
    /// One look over the entries: one read since the last look marks an entry idle, an entry still idle is shed.
    /// Returns how many were shed.
    /// </summary>
    internal int ShedIdle()
    {
        // The hand is the eviction's: a look asked for while one runs has nothing to add to it.
        if (!_eviction.TryEnter()) return 0;
        try
        {
            return ShedIdle(untilRoom: false);
        }
        finally
        {
            _eviction.Exit();
        }
    }

    /// <summary>A look as in <see cref="ShedIdle()"/>; with <paramref name="untilRoom"/>, it stops once a tenth of memory is free.</summary>
    private int ShedIdle(bool untilRoom)
    {
        var shed = 0;
        var now = time.GetUtcNow();
        // One look is one turn of the hand, as many steps as there are entries, starting where the last look stopped.
        for (var steps = Count; steps > 0; steps--)
        {
            if (untilRoom && HasByteRoom()) break;
            if (!TryAdvanceHand(out var entry)) break;
            if (entry.TryMarkIdle() || !entry.TryShed(now, out var remembered)) continue;
            Interlocked.Add(ref _bytes, -entry.DerivedBytes);
            if (remembered is not null) memo?.Forget(remembered);
            shed++;
        }
        if (shed > 0) metrics.CacheShed(shed);
        return shed;
    }

    /// <summary>
    /// The entry under the hand, which then moves on; past the last entry it starts over. A dictionary's enumerator
    /// tolerates concurrent change: an entry added meanwhile may wait for the next turn, and one removed may still be
    /// shown (retired, so a look leaves it alone). After the dictionary grows, the rest of a turn walks the table it
    /// began on, which keeps what that table held reachable until the turn ends: entries dropped since then hold only
    /// what shedding keeps (<see cref="CachedSession.Retire"/>), and a revoke-all or change of trust ends the turn.
    /// </summary>
    private bool TryAdvanceHand([NotNullWhen(true)] out CachedSession? entry)
    {
        if (_handStale)
        {
            _handStale = false;
            _hand = null;
        }
        for (var fresh = false; ; fresh = true)
        {
            _hand ??= _entries.GetEnumerator();
            if (_hand.MoveNext())
            {
                entry = _hand.Current.Value;
                return true;
            }
            _hand = null;
            if (fresh)
            {
                entry = null;
                return false;
            }
        }
    }

    /// <summary>
    /// Removes exactly this entry (not a newer one under the same key) and releases its estimate. An entry made room
    /// for, or whose session ended or was revoked, also lets the memo forget its cookie (<paramref name="forgetCookie"/>),
    /// so the memo holds the cookies of cached sessions and not of ended ones. One dropped by a lookup past its cached
    /// time, or for a record the store changed, leaves it: its request goes on to the store under the same cookie.
    /// </summary>
    private void Drop(SessionKey key, CachedSession entry, bool forgetCookie = false)
    {
        if (_entries.TryRemove(new KeyValuePair<SessionKey, CachedSession>(key, entry))) Released(entry, forgetCookie);
    }

    /// <summary>Drops whatever entry the key has: a revocation's, so the memo forgets its cookie too.</summary>
    private void DropKey(SessionKey key)
    {
        if (_entries.TryRemove(key, out var entry)) Released(entry, forgetCookie: true);
    }

    private void Released(CachedSession entry, bool forgetCookie)
    {
        Interlocked.Decrement(ref _count);
        Interlocked.Add(ref _bytes, -entry.Retire(out var remembered));
        if (forgetCookie && remembered is not null) memo?.Forget(remembered);
    }

    private void DropAll()
    {
        foreach (var (key, entry) in _entries) Drop(key, entry);
        // Let go of the hand now when no eviction holds it: while distrusted nothing evicts, and the hand would keep the
        // table it walks (and what its entries held) reachable until the next eviction.
        if (_eviction.TryEnter())
        {
            _hand = null;
            _eviction.Exit();
        }
        else
        {
            _handStale = true;
        }
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
        var hashes = SessionHandle.ShortHashesOf(revocation.SessionHashes.Concat(revocation.ChangedHashes));
        var users = SessionKey.TagBitsOf(revocation.UserTags);
        foreach (var (key, entry) in _entries)
            if (hashes.Contains(entry.ShortHashBits) || users.Contains(key.TagBits)) DropKey(key);
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
