using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using Microsoft.IdentityModel.Tokens;

namespace Gateway.Login;

/// <summary>Validates tokens from the provider: signature via its JWKS, issuer, audience, lifetime.</summary>
internal static class OidcTokenValidator
{
    private static readonly string[] Algorithms =
        [SecurityAlgorithms.RsaSha256, SecurityAlgorithms.RsaSha384, SecurityAlgorithms.RsaSha512, SecurityAlgorithms.EcdsaSha256,
         SecurityAlgorithms.EcdsaSha384, SecurityAlgorithms.EcdsaSha512, SecurityAlgorithms.RsaSsaPssSha256, "EdDSA"];

    public static async Task<TokenValidationResult> ValidateAsync(string token, OpenIdConnectConfiguration configuration, string audience,
        TimeSpan clockSkew, bool requireExpiration = true)
    {
        var parameters = new TokenValidationParameters
        {
            ValidIssuer = configuration.Issuer,
            ValidAudience = audience,
            IssuerSigningKeys = configuration.SigningKeys,
            ValidateIssuerSigningKey = true,
            RequireSignedTokens = true,
            RequireExpirationTime = requireExpiration,
            ValidateLifetime = true,
            ClockSkew = clockSkew,
            ValidAlgorithms = Algorithms,
        };
        return await new JsonWebTokenHandler { MapInboundClaims = false }.ValidateTokenAsync(token, parameters);
    }
}
