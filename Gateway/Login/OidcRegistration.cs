using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.OpenIdConnect;
using Microsoft.Extensions.Options;

namespace Gateway.Login;

/// <summary>Microsoft's OpenID Connect handler, signing in to the gateway's own session scheme.</summary>
internal static class OidcRegistration
{
    public const string Scheme = "oidc";

    public static AuthenticationBuilder AddGatewayOidc(this AuthenticationBuilder builder)
    {
        builder.AddOpenIdConnect(Scheme, _ => { });
        builder.Services.AddHttpContextAccessor();
        builder.Services.AddSingleton<IConfigureOptions<OpenIdConnectOptions>, OidcHandlerSetup>();
        // After the handler's own post-configure, which builds the back-channel HttpClient we reuse.
        builder.Services.AddSingleton<IPostConfigureOptions<OpenIdConnectOptions>, OidcIssuerCheckSetup>();
        builder.Services.AddSingleton<GatewayOidcEvents>();
        return builder;
    }
}
