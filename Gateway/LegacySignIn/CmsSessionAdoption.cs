using System.Collections.Concurrent;
using Gateway.Observability;
using Gateway.Sessions;
using Microsoft.Extensions.Options;

namespace Gateway.LegacySignIn;

/// <summary>
/// Cut-over (<c>Gateway:LegacySignIn:Adopt</c>): a request for a proxy route with no gateway session but a CMS cookie
/// whose signature verifies and whose record names a Passport user becomes a gateway session for that user, so nobody
/// is signed out the day the gateway goes in. A bad signature, a missing record, a guest record, a failed lookup or a
/// day past <c>Adopt:Until</c> adopts nothing. An adopted session's method is <c>adopted</c>: never a fresh sign-in.
/// </summary>
internal sealed partial class CmsSessionAdoption(
    IOptions<LegacySignInOptions> options, IOptions<Sessions.GatewaySessionOptions> session,
    ICmsSessionFormat format,
    ICmsSessionStore store,
    CmsUserDirectory directory,
    SessionManager sessions,
    SessionCookies cookies,
    CmsSessions cms,
    TimeProvider time,
    GatewayMetrics metrics,
    ILogger<CmsSessionAdoption> logger) : ISessionAdopter
{
    private readonly LegacySignInOptions _options = options.Value;
    private readonly TimeSpan _lifetime = session.Value.AbsoluteLifetime;
    private readonly TimeSpan _idleTimeout = session.Value.IdleTimeout;
    // The requests of one page load arrive together with the same CMS cookie: they share one adoption.
    private readonly ConcurrentDictionary<string, Lazy<Task<(SessionKey Key, string? Binding)?>>> _inFlight = new(StringComparer.Ordinal);

    /// <summary>One adoption per CMS session id at a time; its entry leaves the table when it ends, whoever still waits.</summary>
    private async Task<(SessionKey Key, string? Binding)?> RunAsync(string sessionId)
    {
        // Never completes before GetOrAdd has stored it, so the removal below always finds its own entry.
        await Task.Yield();
        try
        {
            return await StartAsync(sessionId);
        }
        finally
        {
            _inFlight.TryRemove(sessionId, out _);
        }
    }

    public ValueTask<CachedSession?> AdoptAsync(HttpContext context)
    {
        if (context.GetEndpoint()?.Metadata.GetMetadata<Yarp.ReverseProxy.Model.RouteModel>() is null) return default;
        if (CookieHeader.Find(context.Request.Headers.Cookie, _options.CookieName, out var value) != 1) return default;
        return new ValueTask<CachedSession?>(AdoptAsync(context, value.ToString()));
    }

    private async Task<CachedSession?> AdoptAsync(HttpContext context, string cookie)
    {
        if (_options.Adopt.Until is { } until && DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime) > until) return Refuse("past Adopt:Until");
        if (format.SessionIdOf(cookie) is not { } sessionId) return Refuse("bad signature");
        var adoption = _inFlight.GetOrAdd(sessionId, id => new Lazy<Task<(SessionKey Key, string? Binding)?>>(() => RunAsync(id))).Value;
        var result = await adoption.WaitAsync(context.RequestAborted);
        if (result is not var (adopted, binding)) return null;
        // Set as the answer starts: the proxy replaces the response headers with the upstream's before that.
        context.Response.OnStarting(() =>
        {
            cookies.Append(context.Response, adopted);
            if (binding is not null) SessionCookies.AppendBinding(context.Response, binding);
            // With HoldCookie the browser gives the CMS cookie up: the gateway session holds it from now on.
            if (_options.HoldCookie) cms.AppendBrowserCookie(context.Response, "", DateTimeOffset.UnixEpoch, context.Request.IsHttps);
            return Task.CompletedTask;
        });
        var session = await sessions.ResolveAsync(adopted, context.RequestAborted);
        if (session is not null) context.Features.Set(session.Feature);
        return session;
    }

    private async Task<(SessionKey Key, string? Binding)?> StartAsync(string sessionId)
    {
        // Not the request's token: the requests sharing this adoption must not lose it when the first one goes away.
        using var timeout = new CancellationTokenSource(_options.LookupTimeout * 2);
        try
        {
            var stored = await store.ReadAsync(format.RecordKey(sessionId), timeout.Token);
            if (stored is null) return RefuseKey("no CMS record");
            if (format.UserIdOf(stored) is not { } userId) return RefuseKey("CMS record has no signed-in user");
            string name;
            try
            {
                name = await directory.UserNameOfAsync(userId, timeout.Token);
            }
            catch (CmsLookupException ex)
            {
                return RefuseKey(ex.Message);
            }
            // The session moves to a new id: the cookie the browser had (and every copy of it, kept or stolen) names
            // nothing from now on, and of replicas racing to adopt it, the one that takes the record wins.
            var record = await store.TakeAsync(format.RecordKey(sessionId), timeout.Token);
            if (record is null) return RefuseKey("CMS record taken by a concurrent adoption");
            var now = time.GetUtcNow();
            var expiresAt = now + _lifetime;
            var newId = format.NewSessionId();
            var binding = cookies.NewBinding();
            await store.WriteAsync(format.RecordKey(newId), record, CmsSessions.TimeToLive(now, expiresAt, _idleTimeout), timeout.Token);
            await store.NoteUseAsync(newId, now, timeout.Token);
            var key = await sessions.CreateAsync(new SessionRecord
            {
                UserId = name,
                Name = name,
                Method = "adopted",
                CreatedAt = now,
                AbsoluteExpiresAt = expiresAt,
                CmsSession = format.CookieValue(newId),
                CmsUserId = userId,
                BindingHash = binding?.Hash,
            }, timeout.Token);
            metrics.CmsSession("adopted");
            LogAdopted(logger, key.ShortHash, CmsSessions.Hash(newId));
            return (key, binding?.Token);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            return RefuseKey("the CMS store or lookup did not answer in time");
        }
    }

    private CachedSession? Refuse(string reason)
    {
        RefuseKey(reason);
        return null;
    }

    private (SessionKey, string?)? RefuseKey(string reason)
    {
        metrics.CmsSession("adoption-refused");
        LogRefused(logger, reason);
        return null;
    }

    [LoggerMessage(EventId = LogEvents.CmsSessionAdopted, EventName = nameof(LogEvents.CmsSessionAdopted), Level = LogLevel.Information,
        Message = "CMS session {CmsSessionHash} adopted as gateway session {SessionHash}")]
    private static partial void LogAdopted(ILogger logger, string sessionHash, string cmsSessionHash);

    [LoggerMessage(EventId = LogEvents.CmsAdoptionRefused, EventName = nameof(LogEvents.CmsAdoptionRefused), Level = LogLevel.Information,
        Message = "CMS session not adopted: {Reason}")]
    private static partial void LogRefused(ILogger logger, string reason);
}
