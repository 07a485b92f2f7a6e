using Gateway.Configuration;
using Gateway.Observability;
using Microsoft.Extensions.Options;

namespace Gateway.Sessions;

/// <summary>
/// Session lifecycle over the plain store: create, resolve (cache first, idle and absolute limits
/// enforced), revoke one, a user's, or all, with the revocation published to every replica.
/// Knows nothing of HTTP.
/// </summary>
internal sealed partial class SessionManager(
    ISessionStore store,
    SessionRecordProtector protector,
    SessionCache cache,
    ISessionRevocationBus bus,
    IEnumerable<ISessionEndObserver> endObservers,
    IEnumerable<ISessionEndingHook> endingHooks,
    IOptions<GatewaySessionOptions> options,
    EndedHere endedHere,
    SessionTouches touches,
    TimeProvider time,
    GatewayMetrics metrics,
    ILogger<SessionManager> logger)
{
    private readonly GatewaySessionOptions _options = options.Value;

    /// <summary>How many sessions of one user are listed at most (admin and "your sessions" views).</summary>
    public const int ListLimit = 1000;

    public async Task<SessionKey> CreateAsync(SessionRecord record, CancellationToken cancellationToken)
    {
        var key = SessionKey.NewFor(record.UserId);
        var handle = key.Handle;
        var issuedAt = await store.NowAsync(cancellationToken);
        var live = await store.CreateAsync(handle, protector.Protect(record with { SessionHash = handle.Hash, IssuedAt = issuedAt }), TimeToLive(record.AbsoluteExpiresAt, time.GetUtcNow()), cancellationToken);
        metrics.SessionCreated(record.Method);
        // The index may still count sessions that went idle since it was last pruned: the list says how many live.
        if (live > _options.MaxPerUser) await EndLeastRecentlyUsedAsync(handle, cancellationToken);
        return key;
    }

    /// <summary>At the per-user cap, the user's least recently used sessions (never the one just created) end, logged.</summary>
    private async Task EndLeastRecentlyUsedAsync(SessionHandle created, CancellationToken cancellationToken)
    {
        // Listed least recently used first.
        var listed = await store.ListByUserAsync(created.UserTag, int.MaxValue, cancellationToken);
        var excess = listed.Count - _options.MaxPerUser;
        if (excess <= 0) return;
        var oldest = listed.Select(s => s.Handle).Where(h => h != created).Take(excess).ToList();
        if (oldest.Count == 0) return;
        await RevokeHandlesAsync(oldest, "max-per-user", cancellationToken);
        LogCapReached(logger, created.UserTag, _options.MaxPerUser, oldest.Count);
    }

    /// <summary>The live session for <paramref name="key"/>, or null. Throws <see cref="StoreUnavailableException"/> when the store cannot say.</summary>
    public ValueTask<CachedSession?> ResolveAsync(SessionKey key, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        if (cache.TryGet(key, now, out var cached, out var stale))
        {
            if (cached.Ended(now, _options.IdleTimeout))
                return ExpireAsync(cached, cancellationToken);
            // The slide is written in the background: the request does not wait for it.
            if (cached.TryClaimTouch(now, _options.TouchInterval)) touches.Claimed(cached);
            // A use: the store is read ahead of its cached time for its next few reads ahead (SessionRefreshes).
            cached.NoteRead();
            return new ValueTask<CachedSession?>(cached);
        }
        return FetchAsync(key, now, stale, cancellationToken);
    }

    /// <summary>
    /// Ends the session on every replica. Returns its record as the store held it (what logout needs of it, the
    /// id_token, is never cached), or null when the store had none that is genuinely this session's: already ended,
    /// unreadable, misplaced or older than a revoke-all marker. The session is deleted and dropped either way.
    /// </summary>
    public async Task<SessionRecord?> RevokeAsync(SessionKey key, string reason, CancellationToken cancellationToken)
    {
        // What this session started elsewhere (the CMS's session) ends first and confirmed: if that fails, the session
        // is still here for the retry to find.
        if (endingHooks.Any() && await ReadAsync(key.Handle, cancellationToken) is { } before)
            foreach (var hook in endingHooks) await hook.EndingAsync(before, cancellationToken);
        // Read and deleted in one step: a token refresh racing this either lands first (its new refresh token is in the
        // record returned, and revoked at the provider with it) or finds the session gone and revokes its own.
        byte[]? taken;
        UnacknowledgedWriteException? unconfirmed = null;
        try
        {
            taken = await store.TakeAsync(key.Handle, cancellationToken);
        }
        catch (UnacknowledgedWriteException ex)
        {
            // Taken, not yet on a replica: everything a taken session gets still happens (every replica told, its tokens
            // revoked, this replica refusing it whatever a failover brings back), then the caller hears it failed.
            unconfirmed = ex;
            taken = ex.Result as byte[];
            EndHere(key);
        }
        cache.Remove(key);
        if (unconfirmed is null) await bus.PublishAsync(new SessionRevocation([key.ShortHash]), cancellationToken);
        else await PublishDespiteFailureAsync(new SessionRevocation([key.ShortHash]));
        metrics.SessionsRevoked(1, reason);
        LogRevoked(logger, key.ShortHash, reason, taken is not null);
        var record = taken is null ? null : Genuine(key.Handle, new StoredSession(taken, null));
        if (record is not null) await NotifyEndedAsync([record], unconfirmed is null ? cancellationToken : CancellationToken.None);
        if (unconfirmed is not null) throw unconfirmed;
        return record;
    }

    /// <summary>
    /// After an end the store applied but no replica acknowledged (<see cref="UnacknowledgedWriteException"/>): this
    /// replica refuses the session from now on, whatever a failover brings back.
    /// </summary>
    public void EndHere(SessionKey key)
    {
        var now = time.GetUtcNow();
        var until = cache.Peek(key)?.Record.AbsoluteExpiresAt ?? now + _options.AbsoluteLifetime;
        endedHere.Add(key, until, now);
        cache.Remove(key);
    }

    /// <summary>
    /// Tells every replica of an end the store applied but did not confirm, while the caller's failure is on its way
    /// out: the store being down too only loses the message, never hides that failure.
    /// </summary>
    private async Task PublishDespiteFailureAsync(SessionRevocation revocation)
    {
        try
        {
            await bus.PublishAsync(revocation, CancellationToken.None);
        }
        catch (StoreUnavailableException)
        {
        }
    }

    /// <summary>The record as the store holds it now (bypassing this replica's cache), or null when the session ended.</summary>
    public Task<SessionRecord?> ReloadAsync(SessionKey key, CancellationToken cancellationToken) => ReadAsync(key.Handle, cancellationToken);

    /// <summary>
    /// Stores a changed record (new tokens) under the same session, keeping its expiry; every replica drops its cached
    /// copy (a change, not a revocation: the session's connections stay open). False when the session is gone.
    /// </summary>
    public async Task<bool> ReplaceRecordAsync(SessionKey key, SessionRecord record, CancellationToken cancellationToken)
    {
        var handle = key.Handle;
        // Read before the write: a revocation arriving while this runs bumps it, and the cache then refuses our copy.
        var generation = cache.Generation;
        var protectedRecord = protector.Protect(record with { SessionHash = handle.Hash });
        if (!await store.ReplaceAsync(handle, protectedRecord, cancellationToken)) return false;
        await bus.PublishAsync(SessionRevocation.OfChange(key.ShortHash), cancellationToken);
        var now = time.GetUtcNow();
        // Our own publish bumped the generation once; anything beyond that was a revocation.
        cache.Set(new CachedSession(key, record, now, now + _options.CacheDuration, protectedRecord), generation + 1);
        return true;
    }

    private async Task NotifyEndedAsync(IReadOnlyList<SessionRecord> records, CancellationToken cancellationToken)
    {
        foreach (var observer in endObservers) await observer.SessionsEndedAsync(records, cancellationToken);
    }

    /// <summary>Revokes the user's sessions (those matching <paramref name="filter"/> when given); returns how many.</summary>
    public Task<int> RevokeUserAsync(string userId, string reason, Func<SessionRecord, bool>? filter, CancellationToken cancellationToken) =>
        RevokeTagAsync(SessionKey.TagFor(userId), userId, reason, filter, cancellationToken);

    /// <summary>
    /// Every session of the user behind <paramref name="key"/>, known only by the key's user tag: a retried "sign out
    /// everywhere" whose first attempt this replica already ended the session of (<see cref="EndHere"/>).
    /// </summary>
    public Task<int> RevokeUserOfAsync(SessionKey key, string reason, CancellationToken cancellationToken) =>
        RevokeTagAsync(key.UserTag, null, reason, null, cancellationToken);

    /// <summary>Whether this replica ended the session itself, after an unacknowledged end (<see cref="EndHere"/>).</summary>
    public bool IsEndedHere(SessionKey key) => endedHere.Contains(key, time.GetUtcNow());

    private async Task<int> RevokeTagAsync(string tag, string? userId, string reason, Func<SessionRecord, bool>? filter, CancellationToken cancellationToken)
    {
        int count;
        if (filter is null)
        {
            // What the provider issued for these sessions is revoked there too (the first ListLimit of them: a bulk
            // delete of more does not read every record). Each is taken, read and deleted in one step, so a token
            // refresh racing this either lands first (its new token is what is revoked) or finds the session gone.
            var taken = new TakenSessions();
            var done = false;
            try
            {
                if (endObservers.Any())
                    await TakeEachAsync((await store.ListByUserAsync(tag, ListLimit, cancellationToken)).Select(s => s.Handle), userId, taken, cancellationToken);
                var goOn = taken.Heed(cancellationToken);
                try
                {
                    // The marker makes a session created while this runs revoked too; the cache drops the whole user.
                    count = taken.Count + await store.DeleteByUserAsync(tag, await store.NowAsync(goOn), _options.AbsoluteLifetime, goOn);
                    await bus.PublishAsync(SessionRevocation.OfUser(tag), goOn);
                    // Last: a login that completed while the batches ran is older than this mark, so none survives the call.
                    await store.MarkRevokedAsync(tag, await store.NowAsync(goOn), _options.AbsoluteLifetime, goOn);
                }
                catch (UnacknowledgedWriteException)
                {
                    // The mark is on the primary, not yet on a replica: every replica still drops the user's sessions now.
                    await PublishDespiteFailureAsync(SessionRevocation.OfUser(tag));
                    throw;
                }
                done = true;
            }
            finally
            {
                // What was taken is revoked at the provider (and its CMS session ended) even when the rest failed.
                if (done || taken.Count > 0) await NotifyEndedAsync(taken.Records, CancellationToken.None);
            }
        }
        else
        {
            // Chosen by what they hold now; ended (and their tokens revoked) by what they hold when taken.
            var matching = new List<SessionHandle>();
            foreach (var (handle, _) in await store.ListByUserAsync(tag, int.MaxValue, cancellationToken))
                if (await ReadAsync(handle, cancellationToken) is { } record && (userId is null || record.UserId == userId) && filter(record)) matching.Add(handle);
            count = await EndAsync(matching, cancellationToken);
            // A retry after an unacknowledged attempt finds nothing left to take: it confirms what that attempt did.
            if (matching.Count == 0) await store.ConfirmAsync(tag, cancellationToken);
        }
        metrics.SessionsRevoked(count, reason);
        LogUserRevoked(logger, tag, count, reason);
        return count;
    }

    public async Task<int> RevokeAllAsync(string reason, CancellationToken cancellationToken)
    {
        int count;
        try
        {
            count = await store.DeleteAllAsync(await store.NowAsync(cancellationToken), _options.AbsoluteLifetime, cancellationToken);
        }
        catch
        {
            // Failed or cancelled part way: the mark may be written and some sessions gone. Every replica drops its cache and
            // reads the mark again now, so what the mark already refuses is refused everywhere, whatever the caller hears.
            await PublishDespiteFailureAsync(SessionRevocation.Everything);
            throw;
        }
        // Past the deletion the rest is a few commands, finished even if the caller goes away: else the mark would stay
        // where it started, and sessions created while the deletion ran would live on.
        await bus.PublishAsync(SessionRevocation.Everything, CancellationToken.None);
        await store.MarkRevokedAsync(null, await store.NowAsync(CancellationToken.None), _options.AbsoluteLifetime, CancellationToken.None);
        // Again once the mark has moved to the end: a session created while the deletion ran may be cached already, and a
        // replica that holds the mark (a cluster's) would otherwise go on comparing with where it started.
        await bus.PublishAsync(SessionRevocation.Everything, CancellationToken.None);
        foreach (var observer in endObservers) await observer.AllSessionsEndedAsync(cancellationToken);
        metrics.SessionsRevoked(count, reason);
        LogAllRevoked(logger, count, reason);
        return count;
    }

    public async Task<IReadOnlyList<SessionSummary>> ListUserAsync(string userId, CancellationToken cancellationToken) =>
        (await ListOwnAsync(userId, cancellationToken)).Select(s => s.Summary).ToList();

    /// <summary>The user's live sessions with their handles, newest use first; only records that are genuinely theirs.</summary>
    public async Task<IReadOnlyList<(SessionHandle Handle, SessionSummary Summary)>> ListOwnAsync(string userId, CancellationToken cancellationToken)
    {
        var tag = SessionKey.TagFor(userId);
        var indexed = await store.ListByUserAsync(tag, ListLimit, cancellationToken);
        // All records in one read, however many sessions: the page costs the same few commands for 1 or 1,000.
        var stored = await store.GetManyAsync(tag, indexed.Select(i => i.Handle).ToList(), cancellationToken);
        var result = new List<(SessionHandle, SessionSummary)>();
        for (var i = 0; i < indexed.Count; i++)
        {
            var (handle, lastUsed) = indexed[i];
            if (stored[i] is { } s && Genuine(handle, s) is { } record && record.UserId == userId)
                result.Add((handle, new SessionSummary(handle.ShortHash, record.UserId, record.Method, record.CreatedAt, record.AbsoluteExpiresAt)
                {
                    LastUsedAt = lastUsed > record.CreatedAt ? lastUsed : record.CreatedAt,
                    Device = record.Device,
                    Network = record.Network,
                }));
        }
        return result.OrderByDescending(r => r.Item2.LastUsedAt).ToList();
    }

    /// <summary>Ends the given sessions (by handle) on every replica; for a user ending their own.</summary>
    public async Task<int> RevokeHandlesAsync(IReadOnlyList<SessionHandle> handles, string reason, CancellationToken cancellationToken)
    {
        var count = await EndAsync(handles, cancellationToken);
        metrics.SessionsRevoked(count, reason);
        foreach (var handle in handles) LogRevoked(logger, handle.ShortHash, reason, true);
        return count;
    }

    /// <summary>
    /// Takes the sessions (each read and deleted in one step), tells every replica, and only then revokes their tokens
    /// at the provider, whose latency must not delay the revocation itself. Returns how many were still there.
    /// </summary>
    private async Task<int> EndAsync(IReadOnlyList<SessionHandle> handles, CancellationToken cancellationToken)
    {
        if (handles.Count == 0) return 0;
        var taken = new TakenSessions();
        var done = false;
        try
        {
            await TakeEachAsync(handles, null, taken, cancellationToken);
            done = true;
        }
        finally
        {
            // Even when a later take failed: every replica drops what was taken, and its tokens are revoked.
            if (done || taken.Count > 0)
            {
                var goOn = taken.Heed(cancellationToken);
                await bus.PublishAsync(new SessionRevocation(handles.Select(h => h.ShortHash).ToList()), goOn);
                await NotifyEndedAsync(taken.Records, goOn);
            }
        }
        return taken.Count;
    }

    /// <summary>
    /// Takes each session into <paramref name="taken"/> (filled as it goes, so a caller that fails part-way still
    /// has what was taken); with <paramref name="userId"/>, only that user's records are kept for the end observers.
    /// </summary>
    private async Task TakeEachAsync(IEnumerable<SessionHandle> handles, string? userId, TakenSessions taken, CancellationToken cancellationToken)
    {
        UnacknowledgedWriteException? unconfirmed = null;
        foreach (var handle in handles)
        {
            bool found;
            SessionRecord? record;
            try
            {
                (found, record) = await TakeAsync(handle, taken.Heed(cancellationToken));
            }
            catch (UnacknowledgedWriteException ex)
            {
                // Taken on the primary, not yet on a replica: it still counts as taken (published, its tokens revoked),
                // and the call fails at the end, so the caller reports it and the user can try again.
                unconfirmed = ex;
                (found, record) = ex.Result is byte[] bytes ? (true, Genuine(handle, new StoredSession(bytes, null))) : (false, null);
            }
            if (!found) continue;
            taken.Count++;
            if (record is not null && (userId is null || record.UserId == userId)) taken.Records.Add(record);
        }
        if (unconfirmed is not null) throw unconfirmed;
    }

    /// <summary>What a bulk revocation has taken so far.</summary>
    private sealed class TakenSessions
    {
        public int Count { get; set; }

        public List<SessionRecord> Records { get; } = [];

        /// <summary>Once a record is taken, its tokens exist nowhere else: the caller going away no longer stops the rest.</summary>
        public CancellationToken Heed(CancellationToken cancellationToken) => Count == 0 ? cancellationToken : CancellationToken.None;
    }

    /// <summary>Deletes the session; whether it was there, and its record when that is genuinely this session's.</summary>
    private async Task<(bool Found, SessionRecord? Record)> TakeAsync(SessionHandle handle, CancellationToken cancellationToken) =>
        await store.TakeAsync(handle, cancellationToken) is { } taken ? (true, Genuine(handle, new StoredSession(taken, null))) : (false, null);

    /// <summary>
    /// The record stored for <paramref name="handle"/> when it is genuinely that session's and not revoked: written by
    /// a replica sharing our keys, for this very session id and user, and younger than any revoke-all marker.
    /// </summary>
    private async Task<SessionRecord?> ReadAsync(SessionHandle handle, CancellationToken cancellationToken) =>
        await store.GetAsync(handle, cancellationToken) is { } stored ? Genuine(handle, stored) : null;

    private SessionRecord? Genuine(SessionHandle handle, StoredSession stored)
    {
        var record = protector.Unprotect(stored.Record);
        if (record is null)
        {
            metrics.AuthFailure("unreadable-record");
            return null;
        }
        if (record.SessionHash != handle.Hash || SessionKey.TagFor(record.UserId) != handle.UserTag)
        {
            metrics.AuthFailure("misplaced-record");
            return null;
        }
        // Both by the store's clock: no replica's clock takes part.
        if (stored.Revokes(record.IssuedOrCreatedAt())) return null;
        return record;
    }

    /// <summary>
    /// One store read. When it shows the record <paramref name="stale"/> (an entry past its cached time) was built from,
    /// no revocation mark beside it covers the session and the key it was encrypted under is neither gone nor revoked,
    /// that entry is served and kept, with its header values and signed assertion: nothing is decrypted or signed.
    /// Otherwise the record is checked and a new entry built.
    /// </summary>
    private async ValueTask<CachedSession?> FetchAsync(SessionKey key, DateTimeOffset now, CachedSession? stale, CancellationToken cancellationToken)
    {
        if (endedHere.Contains(key, now)) return null;
        var generation = cache.Generation;
        var epoch = cache.LogEpoch;
        var handle = key.Handle;
        var stored = await store.GetAsync(handle, cancellationToken);
        if (stale is not null)
        {
            if (stored is not null && stale.StillHolds(stored) && protector.StillReadable(stored.Record)
                && cache.Revalidate(stale, generation, now + _options.CacheDuration, epoch, now))
            {
                if (stale.TryClaimTouch(now, _options.TouchInterval)) touches.Claimed(stale);
                return stale;
            }
            cache.Discard(stale);
        }
        var record = stored is null ? null : Genuine(handle, stored);
        if (record is null) return null;
        if (record.AbsoluteExpiresAt <= now)
        {
            await store.DeleteAsync(handle, cancellationToken);
            return null;
        }
        // A read from the store counts as activity: the idle expiry slides, off the request path (SessionTouches).
        var session = new CachedSession(key, record, touches.Fetched(key, record.AbsoluteExpiresAt, now), now + _options.CacheDuration, stored!.Record, epoch);
        cache.Set(session, generation);
        return session;
    }

    private async ValueTask<CachedSession?> ExpireAsync(CachedSession session, CancellationToken cancellationToken)
    {
        cache.Remove(session.Key);
        if (session.Record.AbsoluteExpiresAt <= time.GetUtcNow()) await store.DeleteAsync(session.Key.Handle, cancellationToken);
        return null;
    }

    private TimeSpan TimeToLive(DateTimeOffset absoluteExpiresAt, DateTimeOffset now)
    {
        var absoluteLeft = absoluteExpiresAt - now;
        return absoluteLeft < _options.IdleTimeout ? absoluteLeft : _options.IdleTimeout;
    }

    [LoggerMessage(EventId = LogEvents.SessionRevoked, EventName = nameof(LogEvents.SessionRevoked), Level = LogLevel.Information,
        Message = "Session {SessionHash} revoked ({Reason}); was present: {WasPresent}")]
    private static partial void LogRevoked(ILogger logger, string sessionHash, string reason, bool wasPresent);

    [LoggerMessage(EventId = LogEvents.SessionCapReached, EventName = nameof(LogEvents.SessionCapReached), Level = LogLevel.Warning,
        Message = "User tag {UserTag} reached {Max} sessions: {Count} least recently used ended")]
    private static partial void LogCapReached(ILogger logger, string userTag, int max, int count);

    [LoggerMessage(EventId = LogEvents.UserSessionsRevoked, EventName = nameof(LogEvents.UserSessionsRevoked), Level = LogLevel.Information,
        Message = "{Count} sessions of user tag {UserTag} revoked ({Reason})")]
    private static partial void LogUserRevoked(ILogger logger, string userTag, int count, string reason);

    [LoggerMessage(EventId = LogEvents.AllSessionsRevoked, EventName = nameof(LogEvents.AllSessionsRevoked), Level = LogLevel.Warning,
        Message = "All sessions revoked: {Count} ({Reason})")]
    private static partial void LogAllRevoked(ILogger logger, int count, string reason);
}

/// <summary>What an admin or the user may see of a session: never the key itself.</summary>
internal sealed record SessionSummary(string SessionHash, string UserId, string Method, DateTimeOffset CreatedAt, DateTimeOffset AbsoluteExpiresAt)
{
    public DateTimeOffset LastUsedAt { get; init; }
    public string? Device { get; init; }
    public string? Network { get; init; }
}
