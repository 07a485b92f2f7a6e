using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Gateway.Tests.Rig;

/// <summary>node oidc-provider with a test client, signing with a key the test holds.</summary>
internal sealed class IdentityProvider : IAsyncDisposable
{
    public const string ClientId = "gateway";
    public const string ClientSecret = "gateway-test-client-secret";
    private NodeApp _app;
    private readonly Dictionary<string, string?> _env;

    private IdentityProvider(NodeApp app, RSA key, Dictionary<string, string?> env)
    {
        _app = app;
        Key = key;
        _env = env;
    }

    /// <summary>Stops and starts the provider on the same port with the same keys: every grant and refresh token it issued is forgotten.</summary>
    public async Task RestartAsync()
    {
        var port = _app.Port;
        await _app.DisposeAsync();
        _app = await NodeApp.StartAsync("idp.mjs", "IDP_LISTENING", new Dictionary<string, string?>(_env), port);
    }

    /// <summary>What the provider counted: refresh grants served and refused, revocations.</summary>
    public async Task<JsonElement> StatsAsync()
    {
        using var http = new HttpClient();
        return await http.GetFromJsonAsync<JsonElement>($"{Issuer}/test/stats");
    }

    public string Issuer => _app.BaseUrl;
    public RSA Key { get; }
    public string KeyId => "test-idp-key";
    public string Output => _app.Output;

    /// <param name="ignoresMaxAge">A provider that drops <c>max_age</c> (and <c>prompt</c>) from authorization requests, as some do.</param>
    public static async Task<IdentityProvider> StartAsync(string gatewayBaseUrl, string? backchannelUri = null, int? accessTokenTtlSeconds = null, bool ignoresMaxAge = false,
        string? acr = null)
    {
        var rsa = RSA.Create(2048);
        var p = rsa.ExportParameters(true);
        string B(byte[] b) => Base64Url.EncodeToString(b);
        var jwk = new Dictionary<string, string>
        {
            ["kty"] = "RSA", ["kid"] = "test-idp-key", ["use"] = "sig", ["alg"] = "RS256",
            ["n"] = B(p.Modulus!), ["e"] = B(p.Exponent!), ["d"] = B(p.D!), ["p"] = B(p.P!), ["q"] = B(p.Q!),
            ["dp"] = B(p.DP!), ["dq"] = B(p.DQ!), ["qi"] = B(p.InverseQ!),
        };
        var env = new Dictionary<string, string?>
        {
            ["CLIENT_ID"] = ClientId,
            ["CLIENT_SECRET"] = ClientSecret,
            // The https spelling too: a gateway behind a TLS-terminating proxy (X-Forwarded-Proto) sends that one.
            ["REDIRECT_URIS"] = $"{gatewayBaseUrl}/signin-oidc {new UriBuilder(gatewayBaseUrl) { Scheme = "https" }.Uri.GetLeftPart(UriPartial.Authority)}/signin-oidc",
            ["POST_LOGOUT_REDIRECT_URIS"] = $"{gatewayBaseUrl}/",
            ["BACKCHANNEL_LOGOUT_URI"] = backchannelUri ?? $"{gatewayBaseUrl}/backchannel-logout",
            ["IDP_JWKS"] = JsonSerializer.Serialize(new { keys = new[] { jwk } }),
            ["ACCESS_TOKEN_TTL"] = accessTokenTtlSeconds?.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["IGNORE_MAX_AGE"] = ignoresMaxAge ? "true" : null,
            ["ACR"] = acr,
        };
        return new IdentityProvider(await NodeApp.StartAsync("idp.mjs", "IDP_LISTENING", new Dictionary<string, string?>(env)), rsa, env);
    }

    /// <summary>Signs a token with the provider's own key, for hostile-token tests.</summary>
    public string Sign(Dictionary<string, object> claims, string type = "JWT") =>
        new JsonWebTokenHandler().CreateToken(JsonSerializer.Serialize(claims),
            new SigningCredentials(new RsaSecurityKey(Key) { KeyId = KeyId }, SecurityAlgorithms.RsaSha256),
            new Dictionary<string, object> { ["typ"] = type });

    public GatewayConfig Configure(GatewayConfig config) => config
        .Set("Gateway:Login:Oidc:Authority", Issuer)
        .Set("Gateway:Login:Oidc:ClientId", ClientId)
        .Set("Gateway:Login:Oidc:ClientSecret", ClientSecret)
        .Set("Gateway:Login:Oidc:AllowHttpAuthority", "true")
        .Set("Gateway:Login:Oidc:Scopes:0", "openid")
        .Set("Gateway:Login:Oidc:Scopes:1", "email")
        .Set("Gateway:Login:Oidc:Scopes:2", "profile")
        .Set("Gateway:Login:Oidc:Scopes:3", "roles");

    public ValueTask DisposeAsync() => _app.DisposeAsync();
}
