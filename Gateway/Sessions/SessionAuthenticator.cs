using Gateway.Observability;

namespace Gateway.Sessions;

/// <summary>
/// Who a request is, from its session cookie: the one place that decides it, used by the authentication handler
/// (gateway endpoints) and by <see cref="Hosting.ProxyRouteAccess"/> (proxy routes). A missing, tampered or
/// unknown cookie is anonymous; a store that cannot answer is anonymous too, marked so that a protected route
/// answers 503 instead of sending the user to sign in again.
/// </summary>
internal sealed partial class SessionAuthenticator(SessionCookies cookies, SessionManager sessions, GatewayMetrics metrics,
    ILogger<SessionAuthenticator> logger, ISessionAdopter? adopter = null)
{
    /// <summary>The request's live session (also set as <see cref="SessionFeature"/>), or null for anonymous.</summary>
    public async ValueTask<CachedSession?> AuthenticateAsync(HttpContext context)
    {
        SessionKey? key = null;
        try
        {
            key = cookies.Read(context.Request, out var present, out var remembered);
            if (!present) return adopter is null ? null : await adopter.AdoptAsync(context);
            if (key is null)
            {
                metrics.AuthFailure("bad-cookie");
                LogCookieRejected(logger);
                return null;
            }
            var session = await sessions.ResolveAsync(key.Value, context.RequestAborted);
            if (session is null)
            {
                metrics.AuthFailure("no-session");
                return adopter is null ? null : await adopter.AdoptAsync(context);
            }
            // With a cookie domain: a session cookie without this browser's host-only companion was planted (a sibling).
            if (!cookies.IsBound(context.Request, session.Record))
            {
                metrics.AuthFailure("unbound-session");
                LogCookieRejected(logger);
                return null;
            }
            session.NoteCookie(remembered);
            context.Features.Set(session.Feature);
            return session;
        }
        catch (StoreUnavailableException ex)
        {
            context.Features.Set(SessionStoreUnavailableFeature.Instance);
            LogStoreUnavailable(logger, key?.ShortHash ?? "-", ex.Message);
            return null;
        }
    }

    [LoggerMessage(EventId = LogEvents.SessionCookieRejected, EventName = nameof(LogEvents.SessionCookieRejected), Level = LogLevel.Information,
        Message = "Session cookie rejected (tampered, truncated, from foreign keys, or sent more than once); request treated as anonymous")]
    private static partial void LogCookieRejected(ILogger logger);

    [LoggerMessage(EventId = LogEvents.SessionStoreUnavailable, EventName = nameof(LogEvents.SessionStoreUnavailable), Level = LogLevel.Warning,
        Message = "Session {SessionHash} could not be resolved, the store is unavailable: {Reason}")]
    private static partial void LogStoreUnavailable(ILogger logger, string sessionHash, string reason);
}
