using Gateway.Hosting;
using Gateway.Identity;
using Gateway.Sessions;
using Microsoft.AspNetCore.Authentication;

namespace Gateway.Tokens;

/// <summary>The access token this request forwards upstream (set only on routes with <c>Gateway.ForwardAccessToken</c>).</summary>
internal sealed record AccessTokenFeature(string Token);

/// <summary>
/// Before a route that forwards the access token is proxied: get a fresh token for the signed-in session. A refused
/// refresh has ended the session, so the request is challenged (API 401, browser to the login page); a provider that
/// cannot be reached once the token has expired is a 503, never a request without the token it needs.
/// </summary>
internal sealed class AccessTokenForwarding(RequestDelegate next, AccessTokenService tokens)
{
    public Task InvokeAsync(HttpContext context)
    {
        if (context.Features.Get<SessionFeature>() is not { } feature
            || !RouteIdentitySettings.ForwardsAccessToken(context.GetEndpoint()?.Metadata.GetMetadata<Yarp.ReverseProxy.Model.RouteModel>()?.Config.Metadata))
            return next(context);
        return WithTokenAsync(context, feature.Session);
    }

    private async Task WithTokenAsync(HttpContext context, CachedSession session)
    {
        var (status, token) = await tokens.GetAsync(session, context.RequestAborted);
        switch (status)
        {
            case AccessTokenStatus.Refused:
                context.Features.Set<SessionFeature>(null);
                context.User = new System.Security.Claims.ClaimsPrincipal(new System.Security.Claims.ClaimsIdentity());
                await context.ChallengeAsync();
                return;
            case AccessTokenStatus.Unavailable:
                context.Response.Headers.RetryAfter = GatewayResponses.RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
                await GatewayResponses.JsonErrorAsync(context, StatusCodes.Status503ServiceUnavailable, "token_unavailable",
                    "The identity provider cannot renew your access right now; retry shortly.", null);
                return;
            case AccessTokenStatus.Fresh when token is not null:
                context.Features.Set(new AccessTokenFeature(token));
                break;
        }
        await next(context);
    }
}
