using Gateway.Sessions;
using Microsoft.AspNetCore.Authentication;

namespace Gateway.Login;

internal static class OidcRegistration
{
    public static AuthenticationBuilder AddGatewayOidc(this AuthenticationBuilder builder, OidcOptions settings)
    {
        return builder.AddScheme<OidcLoginOptions, OidcLoginHandler>(OidcLoginOptions.Scheme, o =>
        {
            o.ClientId = settings.ClientId!;
            o.ClientSecret = settings.ClientSecret!;
            o.CallbackPath = settings.CallbackPath;
            o.UsePkce = true;
            o.SaveTokens = false;
            o.SignInScheme = GatewaySessionSchemeOptions.Scheme;
            // Replaced from the discovery document on first use; OAuthOptions requires a value up front.
            o.AuthorizationEndpoint = settings.Authority!;
            o.TokenEndpoint = settings.Authority!;
            o.Scope.Clear();
            foreach (var scope in settings.EffectiveScopes) o.Scope.Add(scope);
            // The callback is a top-level GET from the provider: Lax is sent, and works on plain http test rigs.
            o.CorrelationCookie.SameSite = SameSiteMode.Lax;
            o.CorrelationCookie.Name = "gw_oidc_corr";
            o.Events.OnRemoteFailure = context =>
            {
                context.HandleResponse();
                return GatewayResponses.PageAsync(context.HttpContext, StatusCodes.Status400BadRequest, "Sign-in failed",
                    "<p>The sign-in could not be completed and no session was created. <a href=\"/login\">Try again</a>.</p>");
            };
        });
    }
}

