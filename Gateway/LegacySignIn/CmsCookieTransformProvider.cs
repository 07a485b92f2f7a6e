using Gateway.Sessions;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;
using Yarp.ReverseProxy.Transforms;
using Yarp.ReverseProxy.Transforms.Builder;

namespace Gateway.LegacySignIn;

/// <summary>
/// On every route: the CMS cookie the browser sends (any case) never reaches the CMS, so nobody can fixate or swap the
/// CMS session from the browser; a signed-in session's own CMS cookie is sent instead. The CMS's Set-Cookie of it never
/// reaches the browser; a rotation to a new id for the same user is followed.
/// </summary>
internal sealed partial class CmsCookieTransformProvider(
    IOptions<LegacySignInOptions> options,
    CmsSessions cms,
    ICmsSessionFormat format,
    SessionManager sessions,
    Observability.GatewayMetrics metrics,
    ILogger<CmsCookieTransformProvider> logger) : ITransformProvider
{
    private readonly string _name = options.Value.CookieName;
    private readonly LegacySignInOptions _options = options.Value;

    public void ValidateRoute(TransformRouteValidationContext context)
    {
    }

    public void ValidateCluster(TransformClusterValidationContext context)
    {
    }

    public void Apply(TransformBuilderContext context)
    {
        // A cluster that is not the CMS never sees the CMS session: the cookie is a credential at the CMS.
        var isCms = _options.IsCms(context.Cluster?.ClusterId);
        context.AddRequestTransform(transform =>
        {
            var held = isCms ? transform.HttpContext.Features.Get<SessionFeature>()?.Session.Record.CmsSession : null;
            // The common anonymous case (no CMS cookie to remove, none to add) allocates nothing.
            if (held is not null || HasCmsCookie(transform.HttpContext.Request.Headers.Cookie, _name))
                ReplaceCmsCookie(transform.ProxyRequest.Headers, _name, held);
            return ValueTask.CompletedTask;
        });
        context.AddResponseTransform(transform =>
        {
            var headers = transform.HttpContext.Response.Headers;
            var setCookies = headers.SetCookie;
            if (setCookies.Count == 0) return ValueTask.CompletedTask;
            string? fromCms = null;
            var kept = new List<string>(setCookies.Count);
            foreach (var setCookie in setCookies)
            {
                if (setCookie is null) continue;
                if (NameOf(setCookie).Equals(_name, StringComparison.OrdinalIgnoreCase)) fromCms ??= ValueOf(setCookie);
                else kept.Add(setCookie);
            }
            if (kept.Count == setCookies.Count) return ValueTask.CompletedTask;
            headers.SetCookie = kept.ToArray();
            var session = isCms ? transform.HttpContext.Features.Get<SessionFeature>()?.Session : null;
            return session is null || string.IsNullOrEmpty(fromCms) ? ValueTask.CompletedTask : new ValueTask(FollowAsync(session, fromCms, transform.HttpContext.RequestAborted));
        });
    }

    /// <summary>
    /// The CMS set its cookie on a response of <paramref name="session"/>. A new id signed in as the same user (the CMS
    /// rotated it) becomes the session's, on every replica; anything else changes nothing.
    /// </summary>
    private async Task FollowAsync(CachedSession session, string setCookieValue, CancellationToken cancellationToken)
    {
        try
        {
            var newId = format.SessionIdOf(setCookieValue);
            if (newId is null || newId == format.SessionIdOf(session.Record.CmsSession)) return;
            if (!await cms.IsRotationAsync(session, newId, cancellationToken)) return;
            if (await sessions.ReloadAsync(session.Key, cancellationToken) is { } record &&
                await sessions.ReplaceRecordAsync(session.Key, record with { CmsSession = format.CookieValue(newId) }, cancellationToken))
            {
                metrics.CmsSession("followed");
                LogFollowed(logger, session.ShortHash);
            }
        }
        catch (StoreUnavailableException ex)
        {
            // The answer goes on; the next request checks the CMS session again.
            session.DueCmsCheck();
            LogUnavailable(logger, session.ShortHash, ex.Message);
        }
    }

    /// <summary>Removes every copy of the CMS cookie (any case) from what goes upstream, then adds <paramref name="held"/> when given.</summary>
    internal static void ReplaceCmsCookie(System.Net.Http.Headers.HttpRequestHeaders headers, string name, string? held)
    {
        System.Text.StringBuilder? kept = null;
        var removed = false;
        if (headers.TryGetValues(HeaderNames.Cookie, out var values))
        {
            foreach (var pair in CookieHeader.Pairs(new Microsoft.Extensions.Primitives.StringValues(values.ToArray())))
            {
                if (IsCmsPair(pair, name))
                {
                    removed = true;
                    continue;
                }
                kept ??= new System.Text.StringBuilder(pair.Length + 96);
                if (kept.Length > 0) kept.Append("; ");
                kept.Append(pair);
            }
        }
        if (!removed && held is null) return;
        if (held is not null)
        {
            kept ??= new System.Text.StringBuilder(name.Length + held.Length + 1);
            if (kept.Length > 0) kept.Append("; ");
            kept.Append(name).Append('=').Append(held);
        }
        headers.Remove(HeaderNames.Cookie);
        if (kept is { Length: > 0 }) headers.TryAddWithoutValidation(HeaderNames.Cookie, kept.ToString());
    }

    private static bool HasCmsCookie(Microsoft.Extensions.Primitives.StringValues cookies, string name)
    {
        foreach (var pair in CookieHeader.Pairs(cookies))
            if (IsCmsPair(pair, name)) return true;
        return false;
    }

    /// <summary>A <c>name=value</c> pair of the CMS cookie, in any case (the CMS reads one spelling; every one is removed).</summary>
    private static bool IsCmsPair(ReadOnlySpan<char> pair, string name)
    {
        var eq = pair.IndexOf('=');
        return (eq < 0 ? pair : pair[..eq]).Trim().Equals(name, StringComparison.OrdinalIgnoreCase);
    }

    private static ReadOnlySpan<char> NameOf(string setCookie)
    {
        var eq = setCookie.IndexOf('=');
        return (eq < 0 ? setCookie.AsSpan() : setCookie.AsSpan(0, eq)).Trim();
    }

    private static string ValueOf(string setCookie)
    {
        var eq = setCookie.IndexOf('=');
        if (eq < 0) return "";
        var end = setCookie.IndexOf(';', eq);
        return (end < 0 ? setCookie[(eq + 1)..] : setCookie[(eq + 1)..end]).Trim();
    }

    [LoggerMessage(EventId = Observability.LogEvents.CmsSessionFollowed, EventName = nameof(Observability.LogEvents.CmsSessionFollowed), Level = LogLevel.Information,
        Message = "Gateway session {SessionHash} follows the CMS's rotated session id")]
    private static partial void LogFollowed(ILogger logger, string sessionHash);

    [LoggerMessage(EventId = Observability.LogEvents.CmsStoreUnavailable, EventName = nameof(Observability.LogEvents.CmsStoreUnavailable), Level = LogLevel.Warning,
        Message = "The CMS rotated the session of gateway session {SessionHash}, but its store could not be read: {Reason}")]
    private static partial void LogUnavailable(ILogger logger, string sessionHash, string reason);
}
