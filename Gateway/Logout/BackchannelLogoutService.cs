using System.Text.Json;
using Gateway.Hosting;
using Gateway.Login;
using Gateway.Observability;
using Gateway.Sessions;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Gateway.Logout;

/// <summary>
/// <c>POST /backchannel-logout</c> (OpenID Connect Back-Channel Logout 1.0): the provider tells us a
/// user's session ended there. The logout_token is validated (signature via the provider's JWKS,
/// iss, aud, iat, the back-channel event, no nonce, jti used once), then the user's sessions with
/// that sid — or all of them when no sid is given — are revoked on every replica.
/// </summary>
internal sealed partial class BackchannelLogoutService(
    OidcProvider oidc,
    SessionManager sessions,
    IReplayGuard replays,
    TimeProvider time,
    GatewayMetrics metrics,
    ILogger<BackchannelLogoutService> logger)
{
    private const string LogoutEvent = "http://schemas.openid.net/event/backchannel-logout";
    private static readonly TimeSpan MaxAge = TimeSpan.FromMinutes(5);
    private static readonly string[] LogoutTokenTypes = ["logout+jwt", "application/logout+jwt"];

    public async Task HandleAsync(HttpContext context)
    {
        context.Response.Headers.CacheControl = "no-store";
        if (!oidc.Enabled)
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }
        if (!context.Request.HasFormContentType)
        {
            await RejectAsync(context, "expected application/x-www-form-urlencoded with logout_token");
            return;
        }
        var form = await context.Request.ReadFormAsync(context.RequestAborted);
        var logoutToken = form["logout_token"].ToString();
        if (string.IsNullOrEmpty(logoutToken))
        {
            await RejectAsync(context, "logout_token is missing");
            return;
        }

        var result = await ValidateAsync(logoutToken, context.RequestAborted);
        if (!result.IsValid)
        {
            await RejectAsync(context, $"logout_token is not valid ({result.Exception?.GetType().Name})");
            return;
        }
        var token = (JsonWebToken)result.SecurityToken;
        var problem = CheckClaims(token);
        if (problem is not null)
        {
            await RejectAsync(context, problem);
            return;
        }

        token.TryGetPayloadValue<string>("sid", out var sid);
        var sub = token.Subject;
        try
        {
            var jti = $"bcl:{token.Issuer}:{token.Id}";
            if (await replays.IsUsedAsync(jti, context.RequestAborted))
            {
                await RejectAsync(context, "logout_token was already used (jti replay)");
                return;
            }
            var revoked = await sessions.RevokeUserAsync(sub, "backchannel-logout",
                string.IsNullOrEmpty(sid) ? null : record => record.ProviderSessionId == sid, context.RequestAborted);
            // Marked only now: if the revocation failed, the provider's retry of the same token must still be honoured.
            // Two deliveries racing past the check both revoke, which is harmless.
            await replays.MarkUsedAsync(jti, MaxAge + oidc.Settings.ClockSkew * 2, context.RequestAborted);
            LogAccepted(logger, revoked);
            context.Response.StatusCode = StatusCodes.Status200OK;
        }
        catch (StoreUnavailableException)
        {
            // The provider retries on an error; the token is not marked as used, so the retry is acted on.
            context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            context.Response.Headers.RetryAfter = GatewayResponses.RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
    }

    /// <summary>The handler's own id_token parameters, with what differs for a logout token; keys fetched again once if the provider rotated.</summary>
    private async Task<TokenValidationResult> ValidateAsync(string logoutToken, CancellationToken cancellationToken)
    {
        var result = await ValidateOnceAsync(logoutToken, cancellationToken);
        if (result.IsValid || result.Exception is not SecurityTokenSignatureKeyNotFoundException) return result;
        oidc.RequestRefresh();
        return await ValidateOnceAsync(logoutToken, cancellationToken);
    }

    private async Task<TokenValidationResult> ValidateOnceAsync(string logoutToken, CancellationToken cancellationToken)
    {
        var parameters = oidc.ValidationParameters(await oidc.GetConfigurationAsync(cancellationToken));
        // A logout_token must carry iat (checked below); exp is optional in the spec, but honoured when present.
        parameters.RequireExpirationTime = false;
        // Back-Channel Logout 1.0 §2.4: explicitly typed, so an id_token or access token is never taken for one.
        parameters.ValidTypes = LogoutTokenTypes;
        return await oidc.ValidateAsync(logoutToken, parameters);
    }

    private string? CheckClaims(JsonWebToken token)
    {
        if (!token.TryGetPayloadValue<JsonElement>("events", out var events) || events.ValueKind != JsonValueKind.Object ||
            !events.TryGetProperty(LogoutEvent, out var logoutEvent) || logoutEvent.ValueKind != JsonValueKind.Object)
            return "events claim lacks the back-channel logout event";
        if (token.Claims.Any(c => c.Type == "nonce")) return "logout_token must not carry a nonce";
        if (string.IsNullOrEmpty(token.Id)) return "logout_token has no jti";
        if (!token.TryGetPayloadValue<long>("iat", out var iat)) return "logout_token has no iat";
        var issuedAt = DateTimeOffset.FromUnixTimeSeconds(iat);
        var now = time.GetUtcNow();
        if (issuedAt > now + oidc.Settings.ClockSkew || issuedAt < now - MaxAge - oidc.Settings.ClockSkew) return "logout_token iat is out of range";
        if (string.IsNullOrEmpty(token.Subject))
            return "logout_token has no sub; sessions are indexed by user, so sid-only tokens cannot be mapped";
        if (oidc.Settings.UserIdClaim != "sub") return "back-channel logout needs Gateway:Login:Oidc:UserIdClaim=sub";
        return null;
    }

    private async Task RejectAsync(HttpContext context, string reason)
    {
        metrics.AuthFailure("backchannel-logout-rejected");
        LogRejected(logger, reason);
        await GatewayResponses.JsonErrorAsync(context, StatusCodes.Status400BadRequest, "invalid_request", reason, null);
    }

    [LoggerMessage(EventId = LogEvents.BackchannelLogout, EventName = nameof(LogEvents.BackchannelLogout), Level = LogLevel.Information,
        Message = "Back-channel logout accepted; {Count} session(s) revoked")]
    private static partial void LogAccepted(ILogger logger, int count);

    [LoggerMessage(EventId = LogEvents.BackchannelLogoutRejected, EventName = nameof(LogEvents.BackchannelLogoutRejected), Level = LogLevel.Warning,
        Message = "Back-channel logout rejected: {Reason}")]
    private static partial void LogRejected(ILogger logger, string reason);
}
