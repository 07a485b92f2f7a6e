using System.Security.Claims;
using Gateway.Observability;
using Gateway.Sessions;
using Microsoft.Extensions.Options;

namespace Gateway.LegacySignIn;

/// <summary>
/// The CMS's own session for each gateway session, top to bottom: written at sign-in (before the gateway session
/// exists, so a failed lookup signs nobody in), written again when the CMS lost it while the gateway session lives
/// (checked at most once per <c>Gateway:Session:CacheDuration</c> per session and replica), followed when the CMS
/// rotates it for the same user, and deleted whenever the gateway session ends.
/// </summary>
internal sealed partial class CmsSessions(
    IOptions<LegacySignInOptions> options, IOptions<Sessions.GatewaySessionOptions> session,
    ICmsSessionFormat format,
    ICmsSessionStore store,
    CmsUserDirectory directory,
    TimeProvider time,
    GatewayMetrics metrics,
    ILogger<CmsSessions> logger) : ISessionStartHook, ISessionEndingHook, ISessionEndObserver, Logout.ILogoutParticipant
{
    private readonly LegacySignInOptions _options = options.Value;
    private readonly TimeSpan _checkInterval = session.Value.CacheDuration;
    private readonly TimeSpan _idleTimeout = session.Value.IdleTimeout;

    public async Task<SessionRecord> StartingAsync(HttpContext context, ClaimsPrincipal user, SessionRecord record, CancellationToken cancellationToken)
    {
        // An adopted session already holds the CMS session it was adopted from.
        if (record.CmsSession is not null) return record;
        string userId;
        try
        {
            userId = await directory.UserIdOfAsync(user, cancellationToken);
        }
        catch (CmsLookupException ex)
        {
            metrics.CmsSession("sign-in-refused");
            LogSignInRefused(logger, ex.Message);
            throw new SessionStartRefusedException($"your account at the CMS could not be found ({ex.Message})", ex);
        }
        var sessionId = format.NewSessionId();
        await WriteAsync(sessionId, userId, record.AbsoluteExpiresAt, cancellationToken);
        var cookie = format.CookieValue(sessionId);
        if (!_options.HoldCookie)
        {
            // Only on an answer that signed the user in: a sign-in that fails after this (the gateway's store) hands out nothing.
            var response = context.Response;
            response.OnStarting(() =>
            {
                if (response.StatusCode < 400) AppendBrowserCookie(response, cookie, record.AbsoluteExpiresAt, context.Request.IsHttps);
                return Task.CompletedTask;
            });
        }
        metrics.CmsSession("written");
        LogSignedIn(logger, Hash(sessionId));
        return record with { CmsSession = cookie, CmsUserId = userId };
    }

    /// <summary>
    /// Before a request of <paramref name="session"/> goes upstream: when its check is due, the CMS record is read and,
    /// if the CMS dropped it (expiry, its own logout link, an admin) or it no longer names this user, written again.
    /// Throws <see cref="StoreUnavailableException"/> when the CMS's store cannot say; the check is then due again.
    /// </summary>
    public ValueTask EnsureAsync(CachedSession session, CancellationToken cancellationToken)
    {
        if (session.Record is not { CmsSession: { } cookie, CmsUserId: { } userId }) return ValueTask.CompletedTask;
        return session.TryClaimCmsCheck(time.GetUtcNow(), _checkInterval) ? new ValueTask(CheckAsync(session, cookie, userId, cancellationToken)) : ValueTask.CompletedTask;
    }

    private async Task CheckAsync(CachedSession session, string cookie, string userId, CancellationToken cancellationToken)
    {
        if (format.SessionIdOf(cookie) is not { } sessionId) return;
        try
        {
            var stored = await store.ReadAndNoteUseAsync(format.RecordKey(sessionId), sessionId, time.GetUtcNow(), cancellationToken);
            if (stored is not null && CmsUserId.Same(format.UserIdOf(stored), userId)) return;
            await WriteAsync(sessionId, userId, session.Record.AbsoluteExpiresAt, cancellationToken);
            metrics.CmsSession("rewritten");
            LogRewritten(logger, session.ShortHash, stored is null ? "missing" : "not this user's");
        }
        catch
        {
            session.DueCmsCheck();
            throw;
        }
    }

    /// <summary>
    /// Whether <paramref name="newSessionId"/> (a CMS session the CMS just set its cookie for) is signed in as this
    /// session's CMS user: a rotation to follow. Anything else (a guest: the CMS lost ours) makes the next request check.
    /// </summary>
    public async Task<bool> IsRotationAsync(CachedSession session, string newSessionId, CancellationToken cancellationToken)
    {
        var stored = await store.ReadAsync(format.RecordKey(newSessionId), cancellationToken);
        if (stored is not null && CmsUserId.Same(format.UserIdOf(stored), session.Record.CmsUserId))
        {
            await store.NoteUseAsync(newSessionId, time.GetUtcNow(), cancellationToken);
            return true;
        }
        session.DueCmsCheck();
        return false;
    }

    /// <summary>Logout: the CMS session goes first, confirmed; a store that cannot be reached fails the logout (503, retried).</summary>
    public async Task EndingAsync(SessionRecord record, CancellationToken cancellationToken)
    {
        if (format.SessionIdOf(record.CmsSession) is not { } sessionId) return;
        await DeleteAsync(sessionId, cancellationToken);
        LogEnded(logger, Hash(sessionId));
    }

    /// <summary>A CMS cookie the browser holds (without HoldCookie, or from before the cut-over): the session it names ends too.</summary>
    public async Task PurgeAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        foreach (var value in CookieHeader.All(request.Headers.Cookie, _options.CookieName))
        {
            if (format.SessionIdOf(value) is not { } sessionId) continue;
            await DeleteAsync(sessionId, cancellationToken);
            LogEnded(logger, Hash(sessionId));
        }
    }

    public void Clear(HttpRequest request, HttpResponse response) =>
        AppendBrowserCookie(response, "", DateTimeOffset.UnixEpoch, request.IsHttps);

    public async Task SessionsEndedAsync(IReadOnlyList<SessionRecord> records, CancellationToken cancellationToken)
    {
        foreach (var record in records)
        {
            if (format.SessionIdOf(record.CmsSession) is not { } sessionId) continue;
            try
            {
                await DeleteAsync(sessionId, cancellationToken);
                metrics.CmsSession("ended");
                LogEnded(logger, Hash(sessionId));
            }
            catch (StoreUnavailableException ex)
            {
                // The gateway session is gone; the CMS record outlives it only until its TTL, and no browser holds its cookie.
                metrics.CmsSession("end-failed");
                LogEndFailed(logger, Hash(sessionId), ex.Message);
            }
        }
    }

    /// <summary>Revoke-all ended every gateway session: every CMS session the gateway holds ends too.</summary>
    public async Task AllSessionsEndedAsync(CancellationToken cancellationToken)
    {
        try
        {
            var ended = await EndUnusedAsync(DateTimeOffset.MaxValue, cancellationToken);
            LogAllEnded(logger, ended);
        }
        catch (StoreUnavailableException ex)
        {
            metrics.CmsSession("end-failed");
            LogEndFailed(logger, "*", ex.Message);
        }
    }

    /// <summary>
    /// Deletes the CMS sessions whose gateway sessions last used them before <paramref name="before"/> (every one with
    /// <see cref="DateTimeOffset.MaxValue"/>), in pages; returns how many.
    /// </summary>
    internal async Task<int> EndUnusedAsync(DateTimeOffset before, CancellationToken cancellationToken)
    {
        const int Page = 500;
        var ended = 0;
        // Bounded: a registry refilled faster than this empties it is left for the next round.
        for (var page = 0; page < 200; page++)
        {
            var ids = await store.UnusedSinceAsync(before, Page, cancellationToken);
            foreach (var sessionId in ids)
            {
                await DeleteAsync(sessionId, cancellationToken);
                ended++;
            }
            if (ids.Count < Page) break;
        }
        if (ended > 0) metrics.CmsSession("ended");
        return ended;
    }

    /// <summary>Deletes a CMS session the gateway held and takes it out of the registry the sweeper reads.</summary>
    private async Task DeleteAsync(string sessionId, CancellationToken cancellationToken)
    {
        await store.DeleteAsync(format.RecordKey(sessionId), cancellationToken);
        await store.ForgetAsync(sessionId, cancellationToken);
    }

    /// <summary>
    /// Writes the CMS record for <paramref name="sessionId"/>. Its cookie's <c>originalMaxAge</c> is the gateway's idle
    /// timeout: express-session resets <c>expires</c> to now + originalMaxAge on every request it serves and connect-redis
    /// sets the key's TTL from it, so the CMS itself keeps the record alive exactly while it is used and lets it lapse
    /// with the gateway session's idle expiry (never past the absolute lifetime when written).
    /// </summary>
    internal async Task WriteAsync(string sessionId, string userId, DateTimeOffset absoluteExpiresAt, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var timeToLive = TimeToLive(now, absoluteExpiresAt, _idleTimeout);
        if (timeToLive <= TimeSpan.Zero) return;
        await store.WriteAsync(format.RecordKey(sessionId), format.NewRecord(userId, now, now + timeToLive), timeToLive, cancellationToken);
        await store.NoteUseAsync(sessionId, now, cancellationToken);
    }

    /// <summary>The idle timeout, or what is left of the absolute lifetime if less; whole seconds rounded up, as connect-redis counts.</summary>
    internal static TimeSpan TimeToLive(DateTimeOffset now, DateTimeOffset absoluteExpiresAt, TimeSpan idleTimeout)
    {
        var left = absoluteExpiresAt - now;
        if (left <= TimeSpan.Zero) return TimeSpan.Zero;
        return TimeSpan.FromSeconds(Math.Ceiling((left < idleTimeout ? left : idleTimeout).TotalSeconds));
    }

    /// <summary>Without <c>HoldCookie</c> the browser holds the CMS cookie too, with the CMS's own path and attributes.</summary>
    internal void AppendBrowserCookie(HttpResponse response, string cookie, DateTimeOffset? expires, bool secure) =>
        response.Headers.Append(Microsoft.Net.Http.Headers.HeaderNames.SetCookie, new Microsoft.Net.Http.Headers.SetCookieHeaderValue(_options.CookieName, cookie)
        {
            Path = _options.CookiePath, Domain = _options.CookieDomain, HttpOnly = true, Secure = secure,
            SameSite = Microsoft.Net.Http.Headers.SameSiteMode.Lax, Expires = expires,
        }.ToString());

    /// <summary>A short hash of a CMS session id for logs: never the id itself.</summary>
    internal static string Hash(string sessionId) =>
        Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(sessionId)))[..12];

    [LoggerMessage(EventId = LogEvents.CmsSignedIn, EventName = nameof(LogEvents.CmsSignedIn), Level = LogLevel.Information,
        Message = "CMS session {CmsSessionHash} written for a new gateway session")]
    private static partial void LogSignedIn(ILogger logger, string cmsSessionHash);

    [LoggerMessage(EventId = LogEvents.CmsSignInRefused, EventName = nameof(LogEvents.CmsSignInRefused), Level = LogLevel.Warning,
        Message = "Sign-in refused: the CMS user could not be learnt ({Reason})")]
    private static partial void LogSignInRefused(ILogger logger, string reason);

    [LoggerMessage(EventId = LogEvents.CmsSessionRewritten, EventName = nameof(LogEvents.CmsSessionRewritten), Level = LogLevel.Information,
        Message = "CMS session of gateway session {SessionHash} written again: the CMS record was {State}")]
    private static partial void LogRewritten(ILogger logger, string sessionHash, string state);

    [LoggerMessage(EventId = LogEvents.CmsSessionEnded, EventName = nameof(LogEvents.CmsSessionEnded), Level = LogLevel.Information,
        Message = "CMS session {CmsSessionHash} deleted with its gateway session")]
    private static partial void LogEnded(ILogger logger, string cmsSessionHash);

    [LoggerMessage(EventId = LogEvents.CmsSessionsEndedWithAll, EventName = nameof(LogEvents.CmsSessionsEndedWithAll), Level = LogLevel.Information,
        Message = "All gateway sessions ended: {Count} CMS session(s) deleted with them")]
    private static partial void LogAllEnded(ILogger logger, int count);

    [LoggerMessage(EventId = LogEvents.CmsSessionEndFailed, EventName = nameof(LogEvents.CmsSessionEndFailed), Level = LogLevel.Error,
        Message = "CMS session {CmsSessionHash} could not be deleted with its gateway session: {Reason}")]
    private static partial void LogEndFailed(ILogger logger, string cmsSessionHash, string reason);
}
