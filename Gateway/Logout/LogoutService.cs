using Gateway.Configuration;
using Gateway.Hosting;
using Gateway.Login;
using Gateway.Observability;
using Gateway.Security;
using Gateway.Sessions;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Options;

namespace Gateway.Logout;

/// <summary>
/// Logout, top to bottom: refuse a silent cross-site logout; purge (the session record, its index
/// entry and every replica's cached copy, plus the CMS's own session), each confirmed; clear the
/// cookies with the attributes they were set with; only then redirect to public ground. When the
/// store cannot be reached nothing is pretended: 503 with a retry, the cookie kept so the retry can
/// still purge.
/// </summary>
internal sealed partial class LogoutService(
    IOptions<LogoutOptions> options,
    SessionCookies cookies,
    SessionManager sessions,
    LegacySessionCookies legacyCookies,
    ILegacySessionStore legacyStore,
    FormTokens formTokens,
    OidcProvider oidc,
    IEnumerable<ILogoutParticipant> participants,
    GatewayMetrics metrics,
    ILogger<LogoutService> logger)
{
    private readonly LogoutOptions _options = options.Value;

    public async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        // Every method on a logout path is the gateway's; only GET and POST log out. HEAD, PUT, DELETE, PATCH...
        // get 405 here and never reach the CMS, whose own handler would run a logout the gateway does not see.
        if (!HttpMethods.IsGet(request.Method) && !HttpMethods.IsPost(request.Method))
        {
            context.Response.Headers.Allow = "GET, POST";
            context.Response.Headers.CacheControl = "no-store";
            context.Response.StatusCode = StatusCodes.Status405MethodNotAllowed;
            return;
        }
        var isPost = HttpMethods.IsPost(request.Method);
        // The cheap checks come before the body is read: a post that is neither from our origin nor from a browser
        // holding our form cookie cannot prove it was meant, so its form is never read (RequestBodyGuard bounds the rest).
        var mayBeIntended = isPost ? CrossSiteGuard.HasSameOrigin(request) || FormTokens.HasCookie(request) : !CrossSiteGuard.IsForeign(request);
        if (await ReadAskedAsync(context, isPost, mayBeIntended) is not { } asked) return;
        if (!mayBeIntended || !await IsIntendedAsync(context, isPost))
        {
            LogConfirmationShown(logger);
            await ShowConfirmationAsync(context, asked.ReturnUrl);
            return;
        }

        var session = context.Features.Get<SessionFeature>()?.Session;
        // The session, or else the first copy of the session cookie that verifies: what the logs name.
        var key = session?.Key ?? (cookies.ReadAll(request) is [var first, ..] ? first : null);
        SessionRecord? ended;
        try
        {
            ended = await PurgeAsync(context, session, asked.Everywhere);
        }
        catch (StoreUnavailableException ex)
        {
            var unconfirmed = ex is UnacknowledgedWriteException;
            // The store ended the session but no replica confirmed it: a failover could bring it back, never here.
            if (unconfirmed)
                foreach (var presented in cookies.ReadAll(request)) sessions.EndHere(presented);
            metrics.Logout(unconfirmed ? "unconfirmed" : "store-unavailable");
            LogStoreUnavailable(logger, key?.ShortHash, ex.Message);
            await ShowRetryAsync(context, asked.ReturnUrl, asked.Everywhere, unconfirmed);
            return;
        }
        ClearCookies(context);

        // 3. Redirect to public ground, through the provider's end-session when the user came from it.
        var target = await ProviderSignOutUrlAsync(context, session, ended, asked.ReturnUrl) ?? asked.ReturnUrl;
        metrics.Logout(session is null ? "no-session" : "completed");
        LogCompleted(logger, key?.ShortHash, asked.Everywhere);
        context.Response.StatusCode = isPost ? StatusCodes.Status303SeeOther : StatusCodes.Status302Found;
        context.Response.Headers.Location = target;
    }

    /// <summary>Where to go afterwards, and whether every session ends.</summary>
    private readonly record struct Asked(string ReturnUrl, bool Everywhere);

    /// <summary>
    /// What the logout asks for, from the form (a post that may be intended) or the query; null when the form was
    /// malformed, the confirmation then already shown.
    /// </summary>
    private async Task<Asked?> ReadAskedAsync(HttpContext context, bool isPost, bool mayBeIntended)
    {
        var request = context.Request;
        IFormCollection? form = null;
        if (isPost && mayBeIntended && request.HasFormContentType)
        {
            try
            {
                form = await request.ReadFormAsync(context.RequestAborted);
            }
            catch (InvalidDataException)
            {
                // A malformed form (a NUL in a field): still offer the logout, as a confirmation with a clean form.
                metrics.Logout("malformed-form");
                await ShowConfirmationAsync(context, _options.RedirectTo);
                return null;
            }
        }
        var returnUrl = LocalRedirect.OrDefault(form?["returnUrl"].ToString() is { Length: > 0 } f ? f : request.Query["returnUrl"].ToString(), _options.RedirectTo);
        // Ending every session takes a POST (which must also pass the same-origin check): a link or a cross-site GET
        // never carries it, and the confirmation page shows it as an unticked box.
        var everywhere = isPost && string.Equals(form?["scope"].ToString() is { Length: > 0 } s ? s : request.Query["scope"].ToString(), "all", StringComparison.OrdinalIgnoreCase);
        return new Asked(returnUrl, everywhere);
    }

    /// <summary>
    /// 1. Purge, each step confirmed before the next: the session (or all of the user's), every other copy of the
    /// cookie that verifies, the CMS's sessions. Returns this session's record as the store held it (the id_token
    /// for the provider's end-session is never cached).
    /// </summary>
    private async Task<SessionRecord?> PurgeAsync(HttpContext context, CachedSession? session, bool everywhere)
    {
        var request = context.Request;
        SessionRecord? ended = null;
        if (context.Features.Get<SessionStoreUnavailableFeature>() is not null)
            throw new StoreUnavailableException("the session could not be resolved");
        if (everywhere && session is not null)
        {
            // Read first when the provider is to be told: this deletes the record along with every other session of the user.
            if (SignsOutAtProvider(session)) ended = await sessions.ReloadAsync(session.Key, context.RequestAborted);
            await sessions.RevokeUserAsync(session.Record.UserId, "logout-everywhere", null, context.RequestAborted);
        }
        else if (everywhere)
        {
            // The retry of an unconfirmed "everywhere": this replica already refuses the session, so it resolves to
            // nobody, but the user's other sessions must end all the same (by the verified cookie's user tag).
            foreach (var presented in cookies.ReadAll(request))
                if (sessions.IsEndedHere(presented)) await sessions.RevokeUserOfAsync(presented, "logout-everywhere", context.RequestAborted);
        }
        // Every copy of the session cookie that verifies, planted ones included: none of them survives a logout.
        foreach (var presented in cookies.ReadAll(request))
        {
            var record = await sessions.RevokeAsync(presented, "logout", context.RequestAborted);
            if (session is not null && presented == session.Key) ended ??= record;
        }
        await PurgeLegacySessionsAsync(request, context.RequestAborted);
        foreach (var participant in participants) await participant.PurgeAsync(request, context.RequestAborted);
        return ended;
    }

    /// <summary>2. Clear, with exactly the attributes the cookies were set with.</summary>
    private void ClearCookies(HttpContext context)
    {
        var request = context.Request;
        cookies.Expire(context.Response);
        cookies.ExpireBinding(context.Response);
        foreach (var legacy in legacyCookies.Cookies)
        {
            context.Response.Cookies.Append(legacy.Name, "", new CookieOptions
            {
                Path = legacy.Path, Domain = legacy.Domain, HttpOnly = true, SameSite = SameSiteMode.Lax,
                Secure = request.IsHttps, Expires = DateTimeOffset.UnixEpoch,
            });
        }
        foreach (var participant in participants) participant.Clear(request, context.Response);
        context.Response.Headers.CacheControl = "no-store";
        context.Response.Headers.Pragma = "no-cache";
        context.Response.Headers["Clear-Site-Data"] = "\"cache\"";
    }

    private async Task<bool> IsIntendedAsync(HttpContext context, bool isPost)
    {
        if (!isPost) return !CrossSiteGuard.IsForeign(context.Request);
        if (CrossSiteGuard.HasSameOrigin(context.Request)) return true;
        return await formTokens.IsValidAsync(context);
    }

    private async Task PurgeLegacySessionsAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        foreach (var legacy in legacyCookies.Cookies)
        {
            // Every copy by exact name (a planted variant cannot hide the real one); a cookie with a bad signature names
            // nobody's session: clear it, delete nothing.
            foreach (var value in CookieHeader.All(request.Headers.Cookie, legacy.Name))
            {
                if (LegacySessionCookies.VerifiedSessionId(value, legacy.Secrets) is not { } id) continue;
                await legacyStore.DeleteAsync(legacy.RedisKeyPrefix + id, cancellationToken);
                LogLegacyPurged(logger, legacy.Name);
            }
        }
    }

    private bool SignsOutAtProvider(CachedSession? session) =>
        session?.Record.Method == "oidc" && oidc.Enabled && oidc.Settings.SignOutAtProvider;

    /// <summary>
    /// The provider's end-session for a session that signed in there. The id_token hint comes from the record the store
    /// held (the cache never has it). When the store no longer had the record (ended a moment ago on another replica,
    /// expired there first) the user still signed in at the provider: its end-session is still where they go, named
    /// by client_id instead (OIDC RP-Initiated Logout allows either), so the provider's session does not outlive this one.
    /// </summary>
    private async Task<string?> ProviderSignOutUrlAsync(HttpContext context, CachedSession? session, SessionRecord? ended, string returnUrl)
    {
        if (!SignsOutAtProvider(session)) return null;
        try
        {
            var configuration = await oidc.GetConfigurationAsync(context.RequestAborted);
            if (string.IsNullOrEmpty(configuration.EndSessionEndpoint)) return null;
            var request = context.Request;
            var parameters = new Dictionary<string, string?>
            {
                ["post_logout_redirect_uri"] = $"{request.Scheme}://{request.Host}{request.PathBase}{returnUrl}",
                ["state"] = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(8)),
            };
            if (ended is { Method: "oidc", IdToken: { } idToken }) parameters["id_token_hint"] = idToken;
            else
            {
                parameters["client_id"] = oidc.Settings.ClientId;
                LogSignOutWithoutHint(logger, session!.ShortHash);
            }
            return QueryHelpers.AddQueryString(configuration.EndSessionEndpoint, parameters);
        }
        catch (Exception ex) when (ex is InvalidOperationException or HttpRequestException or IOException)
        {
            // The local session is already gone; a provider that is down must not keep the user on a logout error.
            LogProviderUnavailable(logger, ex.Message);
            return null;
        }
    }

    /// <summary>Asks before logging out; signing out everywhere is an unticked box, whatever the request asked for.</summary>
    private async Task ShowConfirmationAsync(HttpContext context, string returnUrl) =>
        await GatewayResponses.PageAsync(context, StatusCodes.Status200OK, "Sign out?",
            "<p>Another site asked to sign you out. Do you want to sign out?</p>" + LogoutForm(context, returnUrl, everywhere: false, "Sign out"));

    private async Task ShowRetryAsync(HttpContext context, string returnUrl, bool everywhere, bool unconfirmed) =>
        await GatewayResponses.StoreUnavailableAsync(context,
            (unconfirmed
                ? "<p id=\"logout-unconfirmed\">Sign-out could not be confirmed: the session store ended your session but its replica did not acknowledge it in time. " +
                  "This gateway refuses the session from now on; try again to make sure it is ended everywhere.</p>"
                : "<p id=\"logout-unavailable\">Sign-out could not be completed: the session store is unreachable, so your session was <strong>not</strong> ended yet.</p>") +
            LogoutForm(context, returnUrl, everywhere, "Try again"));

    private string LogoutForm(HttpContext context, string returnUrl, bool everywhere, string button)
    {
        var path = GatewayResponses.Encode(context.Request.Path.Value);
        return $"""
            <form method="post" action="{path}">
              {formTokens.HiddenField(context)}
              <input type="hidden" name="returnUrl" value="{GatewayResponses.Encode(returnUrl)}">
              <p><label><input id="scope-all" type="checkbox" name="scope" value="all"{(everywhere ? " checked" : "")}> Also sign out all my other sessions</label></p>
              <button id="confirm-logout" type="submit">{GatewayResponses.Encode(button)}</button>
            </form>
            """;
    }

    [LoggerMessage(EventId = LogEvents.LogoutCompleted, EventName = nameof(LogEvents.LogoutCompleted), Level = LogLevel.Information,
        Message = "Logout completed for session {SessionHash}; everywhere: {Everywhere}")]
    private static partial void LogCompleted(ILogger logger, string? sessionHash, bool everywhere);

    [LoggerMessage(EventId = LogEvents.LogoutStoreUnavailable, EventName = nameof(LogEvents.LogoutStoreUnavailable), Level = LogLevel.Error,
        Message = "Logout of session {SessionHash} not completed, the store is unavailable ({Reason}); cookie kept for the retry")]
    private static partial void LogStoreUnavailable(ILogger logger, string? sessionHash, string reason);

    [LoggerMessage(EventId = LogEvents.LogoutConfirmationShown, EventName = nameof(LogEvents.LogoutConfirmationShown), Level = LogLevel.Information,
        Message = "Cross-site logout request answered with a confirmation page")]
    private static partial void LogConfirmationShown(ILogger logger);

    [LoggerMessage(EventId = LogEvents.LegacySessionPurged, EventName = nameof(LogEvents.LegacySessionPurged), Level = LogLevel.Information,
        Message = "Legacy CMS session from cookie {CookieName} purged")]
    private static partial void LogLegacyPurged(ILogger logger, string cookieName);

    [LoggerMessage(EventId = LogEvents.ProviderSignOutSkipped, EventName = nameof(LogEvents.ProviderSignOutSkipped), Level = LogLevel.Warning,
        Message = "Provider end-session skipped, discovery failed: {Reason}")]
    private static partial void LogProviderUnavailable(ILogger logger, string reason);

    [LoggerMessage(EventId = LogEvents.ProviderSignOutWithoutHint, EventName = nameof(LogEvents.ProviderSignOutWithoutHint), Level = LogLevel.Warning,
        Message = "Provider end-session for session {SessionHash} without id_token_hint: the store no longer held its record")]
    private static partial void LogSignOutWithoutHint(ILogger logger, string sessionHash);
}
