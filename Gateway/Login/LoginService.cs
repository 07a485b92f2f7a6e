using Gateway.Hosting;
using Gateway.Security;
using Microsoft.AspNetCore.Authentication;

namespace Gateway.Login;

/// <summary><c>GET /login</c>: the provider's sign-in when OIDC is configured, else the dev-user form.</summary>
internal sealed class LoginService(OidcProvider oidc, DevLoginService devLogin)
{
    public async Task StartAsync(HttpContext context)
    {
        var returnUrl = LocalRedirect.OrDefault(context.Request.Query["returnUrl"], "/");
        var stepUp = StepUpRequest.From(context.Request.Query);
        if (!oidc.Enabled)
        {
            await devLogin.ShowFormAsync(context, returnUrl, stepUp is null ? null : "This page needs a recent sign-in. Please sign in again.");
            return;
        }
        try
        {
            var properties = new AuthenticationProperties { RedirectUri = returnUrl };
            stepUp?.WriteTo(properties);
            await context.ChallengeAsync(OidcRegistration.Scheme, properties);
        }
        catch (InvalidOperationException) when (!context.Response.HasStarted)
        {
            // Discovery failed: the provider is down or misconfigured. Say so instead of a 500.
            await GatewayResponses.PageAsync(context, StatusCodes.Status503ServiceUnavailable, "Sign-in unavailable",
                "<p>The identity provider cannot be reached. Please try again in a moment.</p>");
        }
    }
}
