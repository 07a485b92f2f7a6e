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
    IOptions<GatewayOptions> options,
    TimeProvider time,
    GatewayMetrics metrics,
    ILogger<SessionManager> logger)
{
    private readonly GatewaySessionOptions _options = options.Value.Session;

    public async Task<SessionKey> CreateAsync(SessionRecord record, CancellationToken cancellationToken)
    {
        var key = SessionKey.NewFor(record.UserId);
        await store.CreateAsync(key, protector.Protect(record), TimeToLive(record, time.GetUtcNow()), cancellationToken);
        metrics.SessionCreated(record.Method);
        return key;
    }

    /// <summary>The live session for <paramref name="key"/>, or null. Throws <see cref="StoreUnavailableException"/> when the store cannot say.</summary>
    public ValueTask<CachedSession?> ResolveAsync(SessionKey key, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        if (cache.TryGet(key, now, out var cached))
        {
            if (cached.Record.AbsoluteExpiresAt <= now || cached.LastTouchedAt + _options.IdleTimeout <= now)
                return ExpireAsync(cached, cancellationToken);
            if (cached.TryClaimTouch(now, _options.TouchInterval))
                return TouchAsync(cached, now, cancellationToken);
            return new ValueTask<CachedSession?>(cached);
        }
        return FetchAsync(key, now, cancellationToken);
    }

    public async Task<bool> RevokeAsync(SessionKey key, string reason, CancellationToken cancellationToken)
    {
        var deleted = await store.DeleteAsync(key, cancellationToken);
        cache.Remove(key);
        await bus.PublishAsync(new SessionRevocation([key.ShortHash]), cancellationToken);
        metrics.SessionsRevoked(1, reason);
        LogRevoked(logger, key.ShortHash, reason, deleted);
        return deleted;
    }

    /// <summary>Revokes the user's sessions (those matching <paramref name="filter"/> when given); returns how many.</summary>
    public async Task<int> RevokeUserAsync(string userId, string reason, Func<SessionRecord, bool>? filter, CancellationToken cancellationToken)
    {
        var tag = SessionKey.TagFor(userId);
        IReadOnlyList<SessionKey> revoked;
        if (filter is null)
        {
            revoked = await store.DeleteByUserAsync(tag, cancellationToken);
        }
        else
        {
            var matching = new List<SessionKey>();
            foreach (var key in await store.ListByUserAsync(tag, cancellationToken))
            {
                var bytes = await store.GetAsync(key, cancellationToken);
                if (bytes is not null && protector.Unprotect(bytes) is { } record && record.UserId == userId && filter(record))
                    matching.Add(key);
            }
            foreach (var key in matching) await store.DeleteAsync(key, cancellationToken);
            revoked = matching;
        }
        foreach (var key in revoked) cache.Remove(key);
        if (revoked.Count > 0)
            await bus.PublishAsync(new SessionRevocation(revoked.Select(k => k.ShortHash).ToList()), cancellationToken);
        metrics.SessionsRevoked(revoked.Count, reason);
        LogUserRevoked(logger, tag, revoked.Count, reason);
        return revoked.Count;
    }

    public async Task<int> RevokeAllAsync(string reason, CancellationToken cancellationToken)
    {
        var revoked = await store.DeleteAllAsync(cancellationToken);
        cache.Apply(SessionRevocation.Everything);
        await bus.PublishAsync(SessionRevocation.Everything, cancellationToken);
        metrics.SessionsRevoked(revoked.Count, reason);
        LogAllRevoked(logger, revoked.Count, reason);
        return revoked.Count;
    }

    public async Task<IReadOnlyList<SessionSummary>> ListUserAsync(string userId, CancellationToken cancellationToken)
    {
        var result = new List<SessionSummary>();
        foreach (var key in await store.ListByUserAsync(SessionKey.TagFor(userId), cancellationToken))
        {
            var bytes = await store.GetAsync(key, cancellationToken);
            if (bytes is not null && protector.Unprotect(bytes) is { } record && record.UserId == userId)
                result.Add(new SessionSummary(key.ShortHash, record.UserId, record.Method, record.CreatedAt, record.AbsoluteExpiresAt));
        }
        return result;
    }

    private async ValueTask<CachedSession?> FetchAsync(SessionKey key, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var generation = cache.Generation;
        var bytes = await store.GetAsync(key, cancellationToken);
        if (bytes is null) return null;
        var record = protector.Unprotect(bytes);
        if (record is null)
        {
            metrics.AuthFailure("unreadable-record");
            return null;
        }
        if (record.AbsoluteExpiresAt <= now)
        {
            await store.DeleteAsync(key, cancellationToken);
            return null;
        }
        // A read from the store counts as activity: slide the idle expiry now.
        if (!await store.TouchAsync(key, TimeToLive(record, now), cancellationToken)) return null;
        var session = new CachedSession(key, record, now, now + _options.CacheDuration);
        cache.Set(session, generation);
        return session;
    }

    private async ValueTask<CachedSession?> TouchAsync(CachedSession session, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (await store.TouchAsync(session.Key, TimeToLive(session.Record, now), cancellationToken)) return session;
        cache.Remove(session.Key);
        return null;
    }

    private async ValueTask<CachedSession?> ExpireAsync(CachedSession session, CancellationToken cancellationToken)
    {
        cache.Remove(session.Key);
        if (session.Record.AbsoluteExpiresAt <= time.GetUtcNow()) await store.DeleteAsync(session.Key, cancellationToken);
        return null;
    }

    private TimeSpan TimeToLive(SessionRecord record, DateTimeOffset now)
    {
        var absoluteLeft = record.AbsoluteExpiresAt - now;
        return absoluteLeft < _options.IdleTimeout ? absoluteLeft : _options.IdleTimeout;
    }

    [LoggerMessage(EventId = LogEvents.SessionRevoked, EventName = nameof(LogEvents.SessionRevoked), Level = LogLevel.Information,
        Message = "Session {SessionHash} revoked ({Reason}); was present: {WasPresent}")]
    private static partial void LogRevoked(ILogger logger, string sessionHash, string reason, bool wasPresent);

    [LoggerMessage(EventId = LogEvents.SessionRevoked + 10, EventName = "UserSessionsRevoked", Level = LogLevel.Information,
        Message = "{Count} sessions of user tag {UserTag} revoked ({Reason})")]
    private static partial void LogUserRevoked(ILogger logger, string userTag, int count, string reason);

    [LoggerMessage(EventId = LogEvents.SessionRevoked + 11, EventName = "AllSessionsRevoked", Level = LogLevel.Warning,
        Message = "All sessions revoked: {Count} ({Reason})")]
    private static partial void LogAllRevoked(ILogger logger, int count, string reason);
}

/// <summary>What an admin may see of a session: never the key itself.</summary>
internal sealed record SessionSummary(string SessionHash, string UserId, string Method, DateTimeOffset CreatedAt, DateTimeOffset AbsoluteExpiresAt);
