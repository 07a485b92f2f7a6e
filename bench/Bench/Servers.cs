using Yarp.ReverseProxy.Configuration;

namespace Bench;

/// <summary>The two reference servers: a fast upstream, and YARP with no gateway logic in front of it.</summary>
internal static class Servers
{
    private static readonly byte[] Body = System.Text.Encoding.UTF8.GetBytes("<!doctype html><title>bench</title>" + new string('x', 512));

    public static async Task<int> UpstreamAsync(int port)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        var app = builder.Build();
        app.Run(async context =>
        {
            context.Response.ContentType = "text/html";
            context.Response.ContentLength = Body.Length;
            await context.Response.Body.WriteAsync(Body);
        });
        await app.RunAsync();
        return 0;
    }

    public static async Task<int> BareProxyAsync(int port, string upstream)
    {
        // The same host builder as the gateway, so the comparison isolates the gateway's own logic.
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
