namespace Gateway.Tests.Rig;

/// <summary>Settings for one gateway under test: configuration keys, the route file, the environment.</summary>
internal sealed class GatewayConfig
{
    public Dictionary<string, string?> Settings { get; } = new(StringComparer.OrdinalIgnoreCase)
    {
        ["Gateway:AllowInMemorySessions"] = "true",
        ["Gateway:Login:AllowDevUsers"] = "true",
        ["Gateway:Login:DevUsers:0:Name"] = "alice",
        ["Gateway:Login:DevUsers:0:Password"] = "alice-password",
        ["Gateway:Login:DevUsers:0:Email"] = "alice@example.test",
        ["Gateway:Login:DevUsers:0:Roles:0"] = "editor",
        ["Gateway:Login:DevUsers:1:Name"] = "admin",
        ["Gateway:Login:DevUsers:1:Password"] = "admin-password",
        ["Gateway:Login:DevUsers:1:Roles:0"] = "editor",
        ["Gateway:Login:DevUsers:1:Roles:1"] = "admin",
        ["Gateway:Policies:admins:Roles:0"] = "admin",
        ["Gateway:Logout:Paths:0"] = "/logout",
        ["Gateway:Logout:Paths:1"] = "/admin/logout",
        ["Gateway:Logout:LegacyCookies:0:Name"] = "connect.sid",
        ["Gateway:Logout:LegacyCookies:0:Secrets:0"] = CmsSecret,
        ["Gateway:ProxyConfigPollInterval"] = "00:00:00.200",
        ["Logging:LogLevel:Default"] = "Warning",
        ["Logging:LogLevel:Gateway"] = "Information",
        // Off in the rig: a warm-up adds seconds of load to every start and a session to the cache. WarmUpTests turn it on.
        ["Gateway:WarmUp:Enabled"] = "false",
    };

    public const string CmsSecret = "cms-test-secret";

    /// <summary>The rig's key-encryption key for the DataProtection ring in Redis (32 bytes, base64); never this one in production.</summary>
    public const string KeyEncryptionKey = "dGVzdC1yaWcta2V5LWVuY3J5cHRpb24ta2V5LTMyYiE=";

    public string Environment { get; set; } = "Testing";

    /// <summary>
    /// Without Redis the DataProtection ring lives in files: by default in one directory the test process shares (never
    /// the user's ~/.aspnet, which other runs and the dev gateway write to). A test that revokes keys takes a ring of its
    /// own, or every in-memory gateway running beside it would find its keys revoked.
    /// </summary>
    public bool PrivateKeyRing { get; set; }

    /// <summary>proxy.json content; default: the standard CMS routes towards <see cref="UpstreamUrl"/>.</summary>
    public string? ProxyJson { get; set; }

    public string UpstreamUrl { get; set; } = "http://127.0.0.1:9/";

    public GatewayConfig WithRedis(string configuration, string? prefix = null)
    {
        Settings["Gateway:Redis:Configuration"] = configuration;
        // The suite runs dozens of processes on two cores; a 250 ms per-call budget (the production default)
        // occasionally trips under that load and turns a login into an honest 503. Outage tests fail fast on
        // refused connections, not on this timeout.
        Settings["Gateway:Redis:OperationTimeout"] = "00:00:02";
        Settings["Gateway:Redis:KeyPrefix"] = prefix ?? $"gw{Guid.NewGuid():N}"[..12] + ":";
        Settings["Gateway:KeyRing:KeyEncryptionKey"] = KeyEncryptionKey;
        return this;
    }

    public GatewayConfig Set(string key, string? value)
    {
        Settings[key] = value;
        return this;
    }

    public string RouteFile() => ProxyJson ?? StandardRoutes(UpstreamUrl);

    /// <summary>The standard routes plus one more, given as <c>"id": { ... }</c>.</summary>
    public static string StandardRoutesWith(string upstream, string extraRoute) =>
        StandardRoutes(upstream).Replace("\"cms-api\":", extraRoute + ",\n \"cms-api\":", StringComparison.Ordinal);

    public static string StandardRoutes(string upstream) => $$"""
        {
          "ReverseProxy": {
            "Routes": {
              "cms-admin-users": { "ClusterId": "cms", "AuthorizationPolicy": "admins", "Match": { "Path": "/admin/users/{**rest}" } },
              "cms-admin": { "ClusterId": "cms", "AuthorizationPolicy": "default", "Match": { "Path": "/admin/{**rest}" } },
              "cms-api": { "ClusterId": "cms", "AuthorizationPolicy": "default", "Match": { "Path": "/api/{**rest}" } },
              "cms-cacheable-private": { "ClusterId": "cms", "AuthorizationPolicy": "default", "Match": { "Path": "/private-cacheable" },
                 "Metadata": { "Gateway.AuthenticatedCacheControl": "private" }, "Transforms": [ { "PathSet": "/cacheable" } ] },
              "cms-public": { "ClusterId": "cms", "AuthorizationPolicy": "anonymous", "Order": 100, "Match": { "Path": "{**catch-all}" } }
            },
            "Clusters": {
              "cms": { "Destinations": { "primary": { "Address": "{{upstream}}" } }, "HttpRequest": { "ActivityTimeout": "00:00:05" } }
            }
          }
        }
        """;
}
