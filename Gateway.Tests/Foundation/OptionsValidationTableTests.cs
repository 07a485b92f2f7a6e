using Gateway.Configuration;

namespace Gateway.Tests.Foundation;

/// <summary>The settings rules, table-driven and in process: each bad value is named by its key.</summary>
public sealed class OptionsValidationTableTests
{
    private static GatewayOptions Valid() => new()
    {
        Redis = { Configuration = "127.0.0.1:6379" },
        KeyRing = { KeyEncryptionKey = Convert.ToBase64String(new byte[32]) },
        Login = { Oidc = { Authority = "https://idp.example", ClientId = "gw", ClientSecret = "s" } },
    };

    [Fact]
    public void A_production_configuration_with_redis_a_key_encryption_key_and_oidc_is_valid() =>
        Assert.Empty(GatewayOptionsValidator.Collect(Valid(), isDevelopment: false));

    public static TheoryData<string, string> Broken => new()
    {
        { "no-kek", "Gateway:KeyRing:KeyEncryptionKey: is required with Redis outside Development" },
        { "short-kek", "Gateway:KeyRing:KeyEncryptionKey: must be base64 of exactly 32 bytes" },
        { "bad-previous-kek", "Gateway:KeyRing:PreviousKeyEncryptionKeys:0: must be base64 of exactly 32 bytes" },
        { "prefix-brace", "Gateway:Redis:KeyPrefix: must be non-empty and hold no '{', '}'" },
        { "redis-string", "Gateway:Redis:Configuration: is not a valid StackExchange.Redis configuration string" },
        { "http-authority", "Gateway:Login:Oidc:Authority: must be https" },
        { "no-client", "Gateway:Login:Oidc:ClientId: is required" },
        { "idle", "Gateway:Session:IdleTimeout: must be at least 00:01:00." },
        { "cookie-name", "Gateway:Session:CookieName: must not carry a __Host-/__Secure- prefix" },
        { "logout-path", "Gateway:Logout:Paths:0: 'logout' must be a literal path" },
        { "paths-prefix", "Gateway:Paths:Prefix: 'x' must be a literal path" },
        { "redirect", "Gateway:Logout:RedirectTo: '//evil.example' must be a local path" },
        { "assertion-lifetime", "Gateway:Identity:AssertionLifetime: must be between 00:01:00 and 00:05:00." },
        { "signing-key", "Gateway:Identity:SigningKeys:0:Pem: must be the PEM of an EC P-256 private key" },
        { "address-attempts", "Gateway:Login:AddressAttemptsPerMinute: must be at least 1." },
        { "admin-key", "Gateway:Admin:ApiKey: must be at least 32 characters." },
        { "forwarding", "Gateway:Forwarding:KnownNetworks:0: '10.0.0.0/33' is not a CIDR network" },
        { "policy", "Gateway:Policies:editors: must list Roles, or set MaxAuthenticationAge or AcrValues." },
        { "policy-empty-role", "Gateway:Policies:editors:Roles: must not list an empty role." },
        { "policy-negative-age", "Gateway:Policies:recent:MaxAuthenticationAge: must not be negative." },
        { "policy-acr-without-oidc", "Gateway:Policies:strong:AcrValues: needs OpenID Connect sign-in (Gateway:Login:Oidc)" },
        { "cache-memory", "Gateway:Session:CacheMaxMegabytes: must be between 0 and 65536." },
        { "warm-up", "Gateway:WarmUp:MaxDuration: must be between 00:00:01 and 00:05:00." },
    };

    [Theory]
    [MemberData(nameof(Broken))]
    public void Each_bad_setting_is_reported_by_its_key(string kind, string expected)
    {
        var o = Valid();
        switch (kind)
        {
            case "no-kek": o.KeyRing.KeyEncryptionKey = null; break;
            case "short-kek": o.KeyRing.KeyEncryptionKey = "c2hvcnQ="; break;
            case "bad-previous-kek": o.KeyRing.PreviousKeyEncryptionKeys = ["nope"]; break;
            case "prefix-brace": o.Redis.KeyPrefix = "gw{"; break;
            case "redis-string": o.Redis.Configuration = "127.0.0.1:6379,connectTimeout=soon"; break;
            case "http-authority": o.Login.Oidc.Authority = "http://idp.example"; break;
            case "no-client": o.Login.Oidc.ClientId = null; break;
            case "idle": o.Session.IdleTimeout = TimeSpan.FromSeconds(5); break;
            case "cookie-name": o.Session.CookieName = "__Host-x"; break;
            case "logout-path": o.Logout.Paths = ["logout"]; break;
            case "paths-prefix": o.Paths.Prefix = "x"; break;
            case "redirect": o.Logout.RedirectTo = "//evil.example"; break;
            case "assertion-lifetime": o.Identity.AssertionLifetime = TimeSpan.FromHours(1); break;
            case "signing-key": o.Identity.SigningKeys = [new Gateway.Identity.SigningKeyOptions { Pem = "x" }]; break;
            case "address-attempts": o.Login.AddressAttemptsPerMinute = 0; break;
            case "admin-key": o.Admin.ApiKey = "short"; break;
            case "forwarding": o.Forwarding.KnownNetworks = ["10.0.0.0/33"]; break;
            case "policy": o.Policies["editors"] = new Gateway.Routing.RoutePolicyOptions { Roles = [] }; break;
            case "policy-empty-role": o.Policies["editors"] = new Gateway.Routing.RoutePolicyOptions { Roles = ["editor", " "] }; break;
            case "policy-negative-age": o.Policies["recent"] = new Gateway.Routing.RoutePolicyOptions { MaxAuthenticationAge = TimeSpan.FromMinutes(-1) }; break;
            case "policy-acr-without-oidc":
                o.Login.Oidc.Authority = null;
                o.Policies["strong"] = new Gateway.Routing.RoutePolicyOptions { AcrValues = ["urn:example:mfa"] };
                break;
            case "cache-memory": o.Session.CacheMaxMegabytes = -1; break;
            case "warm-up": o.WarmUp.MaxDuration = TimeSpan.Zero; break;
        }
        Assert.Contains(GatewayOptionsValidator.Collect(o, isDevelopment: false), e => e.StartsWith(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void Development_needs_no_redis_and_no_key_encryption_key() =>
        Assert.Empty(GatewayOptionsValidator.Collect(new GatewayOptions(), isDevelopment: true));
}
