using System.Security.Cryptography;
using Gateway.Login;
using Microsoft.AspNetCore.Authentication.OpenIdConnect;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using Microsoft.IdentityModel.Tokens;

namespace Gateway.Tests.Login;

/// <summary>
/// The id_token checks, table-driven, with the validation parameters the gateway gives Microsoft's OpenID
/// Connect handler (the same ones back-channel logout tokens are checked with): only a token from the
/// provider, for us, still valid, passes.
/// </summary>
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
        var result = await ValidateAsync(Token());
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
        var result = await ValidateAsync(token);
        Assert.False(result.IsValid);
    }

    [Theory]
    [InlineData("one-audience-no-azp", null)]
    [InlineData("one-audience-our-azp", null)]
    [InlineData("two-audiences-our-azp", null)]
    [InlineData("two-audiences-no-azp", "The id_token has several audiences and no azp.")]
    [InlineData("two-audiences-other-azp", "The id_token's azp is another client.")]
    [InlineData("one-audience-other-azp", "The id_token's azp is another client.")]
    public void The_authorized_party_must_be_us_when_named_or_when_there_are_several_audiences(string kind, string? problem)
    {
        var audiences = kind.StartsWith("two", StringComparison.Ordinal) ? new[] { Audience, "another-client" } : [Audience];
        string? azp = kind.EndsWith("our-azp", StringComparison.Ordinal) ? Audience : kind.EndsWith("other-azp", StringComparison.Ordinal) ? "another-client" : null;
        var claims = new Dictionary<string, object> { ["iss"] = Issuer, ["aud"] = audiences, ["sub"] = "alice" };
        if (azp is not null) claims["azp"] = azp;
        var token = new JsonWebToken(new JsonWebTokenHandler().CreateToken(JsonSerializer.Serialize(claims),
            new SigningCredentials(new RsaSecurityKey(ProviderKey) { KeyId = "k1" }, SecurityAlgorithms.RsaSha256)));
        Assert.Equal(problem, IdTokenRules.AuthorizedPartyProblem(token, Audience));
    }

    private static Task<TokenValidationResult> ValidateAsync(string token)
    {
        var handler = new OpenIdConnectOptions();
        OidcHandlerSetup.Apply(handler, new OidcOptions { Authority = Issuer, ClientId = Audience, ClientSecret = "s", ClockSkew = TimeSpan.FromSeconds(30) }, "/signin-oidc", new Microsoft.AspNetCore.Http.HttpContextAccessor());
        return handler.TokenHandler.ValidateTokenAsync(token, OidcProvider.ValidationParameters(handler, Configuration()));
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
