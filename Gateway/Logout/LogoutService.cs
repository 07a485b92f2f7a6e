using Gateway.Configuration;
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
    IOptions<GatewayOptions> options,
    SessionCookies cookies,
    SessionManager sessions,
    LegacySessionCookies legacyCookies,
    ILegacySessionStore legacyStore,
    FormTokens formTokens,
    OidcMetadata oidc,
    GatewayMetrics metrics,
    ILogger<LogoutService> logger)
{
    private readonly LogoutOptions _options = options.Value.Logout;

    public async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        var isPost = HttpMethods.IsPost(request.Method);
        var form = isPost && request.HasFormContentType ? await request.ReadFormAsync(context.RequestAborted) : null;
        var returnUrl = LocalRedirect.OrDefault(form?["returnUrl"].ToString() is { Length: > 0 } f ? f : request.Query["returnUrl"].ToString(), _options.RedirectTo);
        var everywhere = string.Equals(form?["scope"].ToString() is { Length: > 0 } s ? s : request.Query["scope"].ToString(), "all", StringComparison.OrdinalIgnoreCase);

        if (!await IsIntendedAsync(context, isPost))
        {
            LogConfirmationShown(logger);
            await ShowConfirmationAsync(context, returnUrl, everywhere);
            return;
        }

        var key = cookies.Read(request);
        var session = context.Features.Get<SessionFeature>()?.Session;
        try
        {
            // 1. Purge, each step confirmed before the next.
            if (context.Features.Get<SessionStoreUnavailableFeature>() is not null)
                throw new StoreUnavailableException("the session could not be resolved");
            if (everywhere && session is not null) await sessions.RevokeUserAsync(session.Record.UserId, "logout-everywhere", null, context.RequestAborted);
            if (key is not null) await sessions.RevokeAsync(key.Value, "logout", context.RequestAborted);
            await PurgeLegacySessionsAsync(request, context.RequestAborted);
        }
        catch (StoreUnavailableException ex)
        {
            metrics.Logout("store-unavailable");
            LogStoreUnavailable(logger, key?.ShortHash, ex.Message);
            await ShowRetryAsync(context, returnUrl, everywhere);
            return;
        }

        // 2. Clear, with exactly the attributes the cookies were set with.
        cookies.Expire(context.Response);
        foreach (var legacy in legacyCookies.Cookies)
        {
            context.Response.Cookies.Append(legacy.Name, "", new CookieOptions
            {
                Path = legacy.Path, Domain = legacy.Domain, HttpOnly = true, SameSite = SameSiteMode.Lax,
                Secure = request.IsHttps, Expires = DateTimeOffset.UnixEpoch,
            });
        }
        context.Response.Headers.CacheControl = "no-store";
        context.Response.Headers.Pragma = "no-cache";
        context.Response.Headers["Clear-Site-Data"] = "\"cache\"";

        // 3. Redirect to public ground, through the provider's end-session when the user came from it.
        var target = await ProviderSignOutUrlAsync(context, session, returnUrl) ?? returnUrl;
        metrics.Logout(session is null ? "no-session" : "completed");
        LogCompleted(logger, key?.ShortHash, everywhere);
        context.Response.StatusCode = isPost ? StatusCodes.Status303SeeOther : StatusCodes.Status302Found;
        context.Response.Headers.Location = target;
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
            // A cookie with a bad signature names nobody's session: clear it, delete nothing.
            if (LegacySessionCookies.VerifiedSessionId(request.Cookies[legacy.Name], legacy.Secrets) is { } id)
            {
                await legacyStore.DeleteAsync(legacy.RedisKeyPrefix + id, cancellationToken);
                LogLegacyPurged(logger, legacy.Name);
            }
        }
    }

    private async Task<string?> ProviderSignOutUrlAsync(HttpContext context, CachedSession? session, string returnUrl)
    {
        if (session?.Record is not { Method: "oidc", IdToken: { } idToken } || !oidc.Enabled || !oidc.Settings.SignOutAtProvider) return null;
        try
        {
            var configuration = await oidc.GetAsync(context.RequestAborted);
            if (string.IsNullOrEmpty(configuration.EndSessionEndpoint)) return null;
            var request = context.Request;
            return QueryHelpers.AddQueryString(configuration.EndSessionEndpoint, new Dictionary<string, string?>
            {
                ["id_token_hint"] = idToken,
                ["post_logout_redirect_uri"] = $"{request.Scheme}://{request.Host}{request.PathBase}{returnUrl}",
                ["state"] = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(8)),
            });
        }
        catch (Exception ex) when (ex is InvalidOperationException or HttpRequestException or IOException)
        {
            // The local session is already gone; a provider that is down must not keep the user on a logout error.
            LogProviderUnavailable(logger, ex.Message);
            return null;
        }
    }

    private async Task ShowConfirmationAsync(HttpContext context, string returnUrl, bool everywhere) =>
        await GatewayResponses.PageAsync(context, StatusCodes.Status200OK, "Sign out?",
            "<p>Another site asked to sign you out. Do you want to sign out?</p>" + LogoutForm(context, returnUrl, everywhere, "Sign out"));

    private async Task ShowRetryAsync(HttpContext context, string returnUrl, bool everywhere) =>
        await GatewayResponses.StoreUnavailableAsync(context,
            "<p id=\"logout-unavailable\">Sign-out could not be completed: the session store is unreachable, so your session was <strong>not</strong> ended yet.</p>" +
            LogoutForm(context, returnUrl, everywhere, "Try again"));

    private string LogoutForm(HttpContext context, string returnUrl, bool everywhere, string button)
    {
        var tokens = formTokens.Issue(context);
        var path = GatewayResponses.Encode(context.Request.Path.Value);
        return $"""
            <form method="post" action="{path}">
              <input type="hidden" name="{GatewayResponses.Encode(tokens.FormFieldName)}" value="{GatewayResponses.Encode(tokens.RequestToken)}">
              <input type="hidden" name="returnUrl" value="{GatewayResponses.Encode(returnUrl)}">
              {(everywhere ? "<input type=\"hidden\" name=\"scope\" value=\"all\">" : "")}
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

    [LoggerMessage(EventId = LogEvents.LogoutCompleted + 5, EventName = "ProviderSignOutSkipped", Level = LogLevel.Warning,
        Message = "Provider end-session skipped, discovery failed: {Reason}")]
    private static partial void LogProviderUnavailable(ILogger logger, string reason);
}
