using Gateway.Configuration;
using Gateway.Sessions;
using Microsoft.AspNetCore.Authentication.OpenIdConnect;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using Microsoft.IdentityModel.Tokens;

namespace Gateway.Login;

/// <summary>
/// Configures the OpenID Connect handler from <c>Gateway:Login:Oidc</c>: code flow with PKCE, nonce and
/// state, the answer as a top-level GET (so SameSite=Lax cookies come back, on plain-http test rigs too),
/// no tokens in cookies, the gateway's claim names, and a fixed list of signature algorithms.
/// </summary>
internal sealed class OidcHandlerSetup(IOptions<LoginOptions> options, IOptions<Hosting.GatewayPathOptions> paths, IHttpContextAccessor requests) : IConfigureNamedOptions<OpenIdConnectOptions>
{
    /// <summary>Asymmetric algorithms only: an HMAC "signature" keyed with the client secret proves nothing about the provider.</summary>
    internal static readonly string[] Algorithms =
        [SecurityAlgorithms.RsaSha256, SecurityAlgorithms.RsaSha384, SecurityAlgorithms.RsaSha512, SecurityAlgorithms.EcdsaSha256,
         SecurityAlgorithms.EcdsaSha384, SecurityAlgorithms.EcdsaSha512, SecurityAlgorithms.RsaSsaPssSha256, "EdDSA"];

    public void Configure(string? name, OpenIdConnectOptions o)
    {
        if (name == OidcRegistration.Scheme) Apply(o, options.Value.Oidc, paths.Value.EffectiveOidcCallback, requests);
    }

    public void Configure(OpenIdConnectOptions o) => Configure(Microsoft.Extensions.Options.Options.DefaultName, o);

    internal static void Apply(OpenIdConnectOptions o, OidcOptions settings, string callbackPath, IHttpContextAccessor requests)
    {
        o.Authority = settings.Authority;
        o.ClientId = settings.ClientId;
        o.ClientSecret = settings.ClientSecret;
        o.CallbackPath = callbackPath;
        // Front-channel logout is not offered (back-channel is): the handler's own remote sign-out would call the session
        // scheme's SignOutAsync, which the gateway refuses (logout confirms its purge itself), a 500 for anyone who asked.
        o.RemoteSignOutPath = PathString.Empty;
        o.RequireHttpsMetadata = !settings.AllowHttpAuthority;
        o.ResponseType = OpenIdConnectResponseType.Code;
        o.ResponseMode = OpenIdConnectResponseMode.Query;
        o.UsePkce = true;
        o.SignInScheme = GatewaySessionSchemeOptions.Scheme;
        // The id_token goes into the server-side session record (for end-session), never into a cookie.
        o.SaveTokens = false;
        o.GetClaimsFromUserInfoEndpoint = false;
        o.MapInboundClaims = false;
        o.DisableTelemetry = true;
        o.UseTokenLifetime = false;
        o.Scope.Clear();
        foreach (var scope in settings.EffectiveScopes) o.Scope.Add(scope);
        // The principal is built by GatewayOidcEvents from the validated id_token; no claim actions on top.
        o.ClaimActions.Clear();
        o.TokenValidationParameters.ClockSkew = settings.ClockSkew;
        o.TokenValidationParameters.ValidAlgorithms = Algorithms;
        o.TokenValidationParameters.NameClaimType = GatewayClaims.Name;
        o.TokenValidationParameters.RoleClaimType = GatewayClaims.Role;
        o.TokenValidationParameters.RequireSignedTokens = true;
        // The callback is a top-level GET from the provider: Lax is sent. Host-only, and __Host- on https.
        o.CorrelationCookie = FlowCookie(Security.GatewayCookieNames.OidcCorrelation, requests, o.RemoteAuthenticationTimeout);
        o.NonceCookie = FlowCookie(Security.GatewayCookieNames.OidcNonce, requests, o.RemoteAuthenticationTimeout);
        o.EventsType = typeof(GatewayOidcEvents);
    }

    private static HostOnlyFlowCookieBuilder FlowCookie(string name, IHttpContextAccessor requests, TimeSpan lifetime) => new(requests, lifetime)
    {
        Name = name, HttpOnly = true, SameSite = SameSiteMode.Lax, SecurePolicy = CookieSecurePolicy.SameAsRequest, IsEssential = true,
    };
}
