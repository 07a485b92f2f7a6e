using System.Security.Claims;
using Gateway.Configuration;
using Gateway.Hosting;
using Gateway.Observability;
using Gateway.Sessions;
using Microsoft.AspNetCore.Authentication.OpenIdConnect;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;

namespace Gateway.Login;

/// <summary>
/// The gateway's part of the OpenID Connect handler, resolved from DI through <c>EventsType</c>: after the
/// handler validated the id_token (signature, issuer, audience, lifetime, nonce), check the authorized
/// party and map the provider's claims to the gateway's; on any failure answer a page and create nothing.
/// </summary>
internal sealed partial class GatewayOidcEvents(IOptions<LoginOptions> options, Hosting.GatewayEndpointPaths paths, TimeProvider time, GatewayMetrics metrics, ILogger<GatewayOidcEvents> logger) : OpenIdConnectEvents
{
    private readonly OidcOptions _settings = options.Value.Oidc;

    /// <summary>A step-up's request to the provider: <c>max_age</c> (with <c>prompt=login</c> for 0) and <c>acr_values</c>.</summary>
    private const string HttpsItem = "gw.https";
    private const string CorrelationItem = ".xsrf";

    public override Task RedirectToIdentityProvider(RedirectContext context)
    {
        // The flow cookies' names depend on the scheme (__Host- on https): the callback must come back on the same one.
        context.Properties.Items[HttpsItem] = context.Request.IsHttps ? "1" : "0";
        ExpireAbandonedFlows(context.HttpContext, MaxOpenFlows);
        if (StepUpRequest.From(context.Properties) is { } stepUp)
        {
            if (stepUp.MaxAgeSeconds is { } seconds)
            {
                context.ProtocolMessage.MaxAge = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
                if (seconds == 0) context.ProtocolMessage.Prompt = "login";
            }
            if (stepUp.AcrValues is not null) context.ProtocolMessage.AcrValues = stepUp.AcrValues;
        }
        return Task.CompletedTask;
    }

    /// <summary>
    /// Before the handler's own correlation check: the callback arrives on the scheme the flow started on (else a flow
    /// started on https could be finished on http with unprefixed cookies a sibling planted), and carries exactly one
    /// correlation cookie by its exact, case-sensitive name (the framework's lookup ignores case, and
    /// <c>__host-</c> is not a prefix every browser protects).
    /// </summary>
    public override Task MessageReceived(MessageReceivedContext context)
    {
        var properties = context.Properties;
        if (properties is null) return Task.CompletedTask;
        if (!properties.Items.TryGetValue(HttpsItem, out var https) || https != (context.Request.IsHttps ? "1" : "0"))
        {
            context.Fail("The sign-in callback arrived on another scheme than the sign-in started on.");
            return Task.CompletedTask;
        }
        if (!properties.Items.TryGetValue(CorrelationItem, out var correlationId) || correlationId is null
            || CookieHeader.Find(context.Request.Headers.Cookie, context.Options.CorrelationCookie.Name + correlationId, out _) != 1)
            context.Fail("The sign-in callback does not carry this flow's correlation cookie under its exact name.");
        return Task.CompletedTask;
    }

    public override Task TokenValidated(TokenValidatedContext context)
    {
        var raw = context.TokenEndpointResponse?.IdToken ?? context.ProtocolMessage?.IdToken;
        if (string.IsNullOrEmpty(raw))
        {
            context.Fail("The token response has no id_token.");
            return Task.CompletedTask;
        }
        var idToken = new JsonWebToken(raw);
        if (IdTokenRules.AuthorizedPartyProblem(idToken, _settings.ClientId!) is { } problem)
        {
            context.Fail(problem);
            return Task.CompletedTask;
        }
        var claims = OidcClaimMapper.Map(idToken, _settings);
        // A provider may ignore max_age or acr_values: the step-up is only done when the id_token shows it was.
        if (StepUpRequest.From(context.Properties!) is { } stepUp)
        {
            var authenticatedAt = long.TryParse(claims.FirstOrDefault(c => c.Type == GatewayClaims.AuthenticatedAt)?.Value, out var ms) ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : (DateTimeOffset?)null;
            if (stepUp.ProblemWith(authenticatedAt, claims.FirstOrDefault(c => c.Type == GatewayClaims.Acr)?.Value, time.GetUtcNow()) is { } unmet)
            {
                LogStepUpNotConfirmed(logger, unmet);
                context.Fail(new StepUpNotConfirmedException(unmet));
                return Task.CompletedTask;
            }
        }
        claims.Add(new Claim(GatewayClaims.IdToken, raw));
        // The tokens for the APIs behind the gateway stay server-side, in the encrypted session record.
        if (context.TokenEndpointResponse is { AccessToken: { Length: > 0 } accessToken } response)
        {
            claims.Add(new Claim(GatewayClaims.AccessToken, accessToken));
            if (int.TryParse(response.ExpiresIn, out var seconds))
                claims.Add(new Claim(GatewayClaims.AccessTokenExpiresAt, time.GetUtcNow().AddSeconds(seconds).ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture)));
            if (response.RefreshToken is { Length: > 0 } refreshToken) claims.Add(new Claim(GatewayClaims.RefreshToken, refreshToken));
        }
        context.Principal = new ClaimsPrincipal(new ClaimsIdentity(claims, OidcRegistration.Scheme, GatewayClaims.Name, GatewayClaims.Role));
        return Task.CompletedTask;
    }

    public override Task RemoteFailure(RemoteFailureContext context)
    {
        context.HandleResponse();
        // The handler deletes the correlation cookie, never the nonce: a failed sign-in leaves none of its flow behind.
        ExpireAbandonedFlows(context.HttpContext, 0);
        metrics.AuthFailure("oidc-callback");
        // The failure's type and the provider's error code only: the message can quote the provider's response body.
        LogFailed(logger, context.Failure?.GetType().Name ?? "unknown", ErrorCode(context.Failure));
        if (context.Failure is StepUpNotConfirmedException)
            return GatewayResponses.PageAsync(context.HttpContext, StatusCodes.Status403Forbidden, "Recent sign-in not confirmed",
                "<p id=\"step-up-not-confirmed\">This page needs a recent (or stronger) sign-in, and the identity provider did not confirm one. No session was created and the page was not opened.</p>");
        return GatewayResponses.PageAsync(context.HttpContext, StatusCodes.Status400BadRequest, "Sign-in failed",
            $"<p>The sign-in could not be completed and no session was created. <a href=\"{GatewayResponses.Encode(context.Request.PathBase + paths.Login)}\">Try again</a>.</p>");
    }

    /// <summary>Sign-ins a browser may have open at once (tabs) before the oldest ones' cookies go.</summary>
    internal const int MaxOpenFlows = 4;

    /// <summary>
    /// Flow cookies are Path=/ (what <c>__Host-</c> demands), so every request carries them until they expire: past
    /// <paramref name="keep"/> flows (a correlation and a nonce cookie each) they are all expired, so abandoned
    /// sign-ins can never grow the Cookie header past a proxy's limit.
    /// </summary>
    private static void ExpireAbandonedFlows(HttpContext context, int keep)
    {
        var request = context.Request;
        var prefix = Security.GatewayCookieNames.HostOnly(Security.GatewayCookieNames.OidcPrefix, request.IsHttps);
        var names = request.Cookies.Keys.Where(n => n.StartsWith(prefix, StringComparison.Ordinal)).ToList();
        if (names.Count <= keep * 2) return;
        var options = new CookieOptions { Path = "/", Secure = request.IsHttps, HttpOnly = true, SameSite = SameSiteMode.Lax, Expires = DateTimeOffset.UnixEpoch };
        foreach (var name in names) context.Response.Cookies.Append(name, "", options);
    }

    /// <summary>The provider answered a step-up without showing it did what was asked (max_age, acr_values).</summary>
    private sealed class StepUpNotConfirmedException(string message) : Exception(message);

    [LoggerMessage(EventId = LogEvents.StepUpNotConfirmed, EventName = nameof(LogEvents.StepUpNotConfirmed), Level = LogLevel.Warning,
        Message = "A step-up sign-in was refused: {Problem}; no session was created")]
    private static partial void LogStepUpNotConfirmed(ILogger logger, string problem);

    private static string ErrorCode(Exception? failure)
    {
        var code = failure?.Data["error"] as string;
        return code is { Length: > 0 and <= 64 } && code.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.') ? code : "none";
    }

    [LoggerMessage(EventId = LogEvents.OidcLoginFailed, EventName = nameof(LogEvents.OidcLoginFailed), Level = LogLevel.Warning,
        Message = "OIDC sign-in failed, no session created: {FailureType} (provider error: {ProviderError})")]
    private static partial void LogFailed(ILogger logger, string failureType, string providerError);
}

/// <summary>Checks on an id_token beyond what the token validation parameters express.</summary>
internal static class IdTokenRules
{
    /// <summary>
    /// OpenID Connect Core §3.1.3.7: with several audiences the token must name us as its authorized party
    /// (<c>azp</c>), and an <c>azp</c> that is present must be our client id.
    /// </summary>
    public static string? AuthorizedPartyProblem(JsonWebToken token, string clientId)
    {
        token.TryGetPayloadValue<string>("azp", out var azp);
        if (token.Audiences.Count() > 1 && string.IsNullOrEmpty(azp)) return "The id_token has several audiences and no azp.";
        if (!string.IsNullOrEmpty(azp) && !string.Equals(azp, clientId, StringComparison.Ordinal)) return "The id_token's azp is another client.";
        return null;
    }
}
