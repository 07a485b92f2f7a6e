using System.Buffers.Text;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text.Encodings.Web;
using System.Text.Json;
using Gateway.Sessions;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.OAuth;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Gateway.Login;

internal sealed class OidcLoginOptions : OAuthOptions
{
    public const string Scheme = "oidc";
}

/// <summary>
/// OpenID Connect code flow on the shared framework's OAuth handler, which already does state,
/// the correlation cookie and PKCE. This adds discovery, a nonce, and id_token validation, and maps
/// the provider's claims to the gateway's. Tokens stay in the server-side session, never in a cookie.
/// </summary>
internal sealed class OidcLoginHandler(IOptionsMonitor<OidcLoginOptions> options, ILoggerFactory logger, UrlEncoder encoder, OidcMetadata metadata)
    : OAuthHandler<OidcLoginOptions>(options, logger, encoder)
{
    private const string NonceKey = "gw.nonce";

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var configuration = await metadata.GetAsync(Context.RequestAborted);
        Options.AuthorizationEndpoint = configuration.AuthorizationEndpoint;
        properties.Items[NonceKey] = Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));
        await base.HandleChallengeAsync(properties);
    }

    protected override string BuildChallengeUrl(AuthenticationProperties properties, string redirectUri) =>
        QueryHelpers.AddQueryString(base.BuildChallengeUrl(properties, redirectUri), "nonce", properties.Items[NonceKey]!);

    protected override async Task<OAuthTokenResponse> ExchangeCodeAsync(OAuthCodeExchangeContext context)
    {
        Options.TokenEndpoint = (await metadata.GetAsync(Context.RequestAborted)).TokenEndpoint;
        return await base.ExchangeCodeAsync(context);
    }

    protected override async Task<AuthenticationTicket> CreateTicketAsync(ClaimsIdentity identity, AuthenticationProperties properties, OAuthTokenResponse tokens)
    {
        if (tokens.Response is null || !tokens.Response.RootElement.TryGetProperty("id_token", out var idTokenElement) || idTokenElement.ValueKind != JsonValueKind.String)
            throw new AuthenticationFailureException("The token response has no id_token.");
        var idToken = idTokenElement.GetString()!;
        var settings = metadata.Settings;

        var configuration = await metadata.GetAsync(Context.RequestAborted);
        var result = await OidcTokenValidator.ValidateAsync(idToken, configuration, Options.ClientId, settings.ClockSkew);
        if (!result.IsValid && result.Exception is SecurityTokenSignatureKeyNotFoundException)
        {
            metadata.RequestRefresh();
            configuration = await metadata.GetAsync(Context.RequestAborted);
            result = await OidcTokenValidator.ValidateAsync(idToken, configuration, Options.ClientId, settings.ClockSkew);
        }
        if (!result.IsValid)
            throw new AuthenticationFailureException($"The id_token is not valid: {result.Exception?.GetType().Name}");
        var token = (JsonWebToken)result.SecurityToken;
        if (!token.TryGetPayloadValue<string>("nonce", out var nonce) || !properties.Items.TryGetValue(NonceKey, out var expected) ||
            !CryptographicOperations.FixedTimeEquals(System.Text.Encoding.UTF8.GetBytes(nonce), System.Text.Encoding.UTF8.GetBytes(expected ?? "")))
            throw new AuthenticationFailureException("The id_token nonce does not match this login.");
        properties.Items.Remove(NonceKey);

        var claims = OidcClaimMapper.Map(token, settings);
        claims.Add(new Claim(GatewayClaims.IdToken, idToken));
        var principal = new ClaimsPrincipal(new ClaimsIdentity(claims, Scheme.Name, GatewayClaims.Name, GatewayClaims.Role));
        return new AuthenticationTicket(principal, properties, Scheme.Name);
    }
}
