using Yarp.ReverseProxy.Configuration;

namespace Bench;

/// <summary>The reference proxy: YARP with no gateway logic in front of it.</summary>
internal static class Servers
{
    public static async Task<int> BareProxyAsync(int port, string upstream)
    {
        // The same host builder as the gateway, so the comparison isolates the gateway's own logic. No log providers:
        // the gateway's defaults log nothing per request either (appsettings.json turns request logging off).
        var builder = WebApplication.CreateBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        builder.Services.AddReverseProxy().LoadFromMemory(
            [new RouteConfig { RouteId = "all", ClusterId = "upstream", Match = new RouteMatch { Path = "{**catch-all}" } }],
            [new ClusterConfig { ClusterId = "upstream", Destinations = new Dictionary<string, DestinationConfig> { ["a"] = new() { Address = upstream } } }]);
        var app = builder.Build();
        app.MapReverseProxy();
        await app.RunAsync();
        return 0;
    }
}
