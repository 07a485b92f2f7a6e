using System.Diagnostics;

namespace Bench;

/// <summary>Gateway replicas as ops run them: Production, appsettings.json from the build's own folder, one Redis, one key ring.</summary>
internal static class Gateways
{
    public const string KeyEncryptionKey = "YmVuY2gtb25seS1rZXktZW5jcnlwdGlvbi1rZXktMzI=";

    /// <param name="capture">Where /bench/capture/ goes (a <see cref="HeaderCapture"/>); the upstream when not given.</param>
    public static string RouteFile(string upstream, string? capture = null) => $$"""
        { "ReverseProxy": {
            "Routes": {
              "bench-capture": { "ClusterId": "capture", "AuthorizationPolicy": "default", "Match": { "Path": "/bench/capture/{**rest}" } },
              "bench-signed": { "ClusterId": "up", "AuthorizationPolicy": "default", "Match": { "Path": "/bench/signed/{**rest}" } },
              "bench-noassert": { "ClusterId": "up", "AuthorizationPolicy": "default", "Match": { "Path": "/bench/noassert/{**rest}" },
                                  "Metadata": { "Gateway.IdentityHeaders": "user,email,name,roles" } },
              "bench-public": { "ClusterId": "up", "AuthorizationPolicy": "anonymous", "Order": 100, "Match": { "Path": "{**catch-all}" } } },
            "Clusters": { "up": { "Destinations": { "a": { "Address": "{{upstream}}" } } },
                          "capture": { "Destinations": { "a": { "Address": "{{capture ?? upstream}}" } } } } } }
        """;

    public static (string Url, Process Process) Start(string dll, string work, int redisPort, IDictionary<string, string>? extra = null, int? port = null)
    {
        var listen = port ?? Processes.FreePort();
        var env = new Dictionary<string, string>
        {
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
            ["ASPNETCORE_CONTENTROOT"] = Path.GetDirectoryName(dll)!,
            ["Logging__LogLevel__Default"] = "Warning",
            ["Gateway__ProxyConfigPath"] = Path.Combine(work, "proxy.json"),
            ["Gateway__Redis__Configuration"] = $"127.0.0.1:{redisPort}",
            ["Gateway__KeyRing__KeyEncryptionKey"] = KeyEncryptionKey,
            ["Gateway__Login__AllowDevUsers"] = "true",
            ["Gateway__Login__AttemptsPerMinute"] = "1000000",
            ["Gateway__Login__AddressAttemptsPerMinute"] = "1000000",
            // The bench's one user holds every seeded session (100k at scale): far past the per-user cap, on purpose.
            ["Gateway__Session__MaxPerUser"] = "1000000",
            ["Gateway__Login__DevUsers__0__Name"] = Logins.User,
            ["Gateway__Login__DevUsers__0__Password"] = Logins.Password,
            ["Gateway__Login__DevUsers__0__Email"] = "bench@example.test",
            ["Gateway__Login__DevUsers__0__Roles__0"] = "editor",
        };
        foreach (var (k, v) in extra ?? new Dictionary<string, string>()) env[k] = v;
        var process = Processes.Start("dotnet", [dll, "--urls", $"http://127.0.0.1:{listen}"], env, work);
        return ($"http://127.0.0.1:{listen}", process);
    }
}
