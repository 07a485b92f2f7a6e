using System.Security.Cryptography;
using Gateway.Login;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using Microsoft.IdentityModel.Tokens;

namespace Gateway.Tests.Login;

/// <summary>The id_token checks, table-driven: only a token from the provider, for us, still valid, passes.</summary>
public sealed class IdTokenValidationTests
{
    private const string Issuer = "https://idp.example.test";
    private const string Audience = "gateway";
    private static readonly RSA ProviderKey = RSA.Create(2048);
    private static readonly RSA OtherKey = RSA.Create(2048);

    public static TheoryData<string> HostileTokens => new() { "wrong-issuer", "wrong-audience", "bad-signature", "expired", "unsigned", "not-yet-valid" };

    [Fact]
    public async Task A_token_from_the_provider_for_us_passes()
    {
        var result = await OidcTokenValidator.ValidateAsync(Token(), Configuration(), Audience, TimeSpan.FromSeconds(30));
        Assert.True(result.IsValid, result.Exception?.ToString());
    }

    [Theory]
    [MemberData(nameof(HostileTokens))]
    public async Task Hostile_id_tokens_are_refused(string kind)
    {
        var token = kind switch
        {
            "wrong-issuer" => Token(issuer: "https://evil.example.test"),
            "wrong-audience" => Token(audience: "another-client"),
            "bad-signature" => Token(key: OtherKey),
            "expired" => Token(expires: DateTime.UtcNow.AddMinutes(-5)),
            "not-yet-valid" => Token(notBefore: DateTime.UtcNow.AddMinutes(10)),
            "unsigned" => new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
            {
                Issuer = Issuer, Audience = Audience, Subject = new System.Security.Claims.ClaimsIdentity([new("sub", "alice")]),
                Expires = DateTime.UtcNow.AddMinutes(5),
            }),
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };
        var result = await OidcTokenValidator.ValidateAsync(token, Configuration(), Audience, TimeSpan.FromSeconds(30));
        Assert.False(result.IsValid);
    }

    private static OpenIdConnectConfiguration Configuration()
    {
        var configuration = new OpenIdConnectConfiguration { Issuer = Issuer };
        configuration.SigningKeys.Add(new RsaSecurityKey(ProviderKey) { KeyId = "k1" });
        return configuration;
    }

    private static string Token(string issuer = Issuer, string audience = Audience, RSA? key = null, DateTime? expires = null, DateTime? notBefore = null) =>
        new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = issuer,
            Audience = audience,
            Subject = new System.Security.Claims.ClaimsIdentity([new("sub", "alice"), new("nonce", "n")]),
            IssuedAt = (notBefore ?? DateTime.UtcNow).AddMinutes(-1),
            NotBefore = notBefore ?? DateTime.UtcNow.AddMinutes(-1),
            Expires = expires ?? DateTime.UtcNow.AddMinutes(5),
            SigningCredentials = new SigningCredentials(new RsaSecurityKey(key ?? ProviderKey) { KeyId = "k1" }, SecurityAlgorithms.RsaSha256),
        });
}
