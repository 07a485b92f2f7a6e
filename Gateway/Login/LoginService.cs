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
        if (!oidc.Enabled)
        {
            await devLogin.ShowFormAsync(context, returnUrl);
            return;
        }
        try
        {
            await context.ChallengeAsync(OidcRegistration.Scheme, new AuthenticationProperties { RedirectUri = returnUrl });
        }
        catch (InvalidOperationException) when (!context.Response.HasStarted)
        {
            // Discovery failed: the provider is down or misconfigured. Say so instead of a 500.
            await GatewayResponses.PageAsync(context, StatusCodes.Status503ServiceUnavailable, "Sign-in unavailable",
                "<p>The identity provider cannot be reached. Please try again in a moment.</p>");
        }
    }
}
