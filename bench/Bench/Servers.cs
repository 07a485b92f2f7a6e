using Yarp.ReverseProxy.Configuration;

namespace Bench;

/// <summary>The reference proxy: YARP with no gateway logic in front of it.</summary>
internal static class Servers
{
    /// <param name="editsFile">
    /// Optional: "Name: value" lines. Then each request also gets what the gateway does to a signed-in request on the
    /// wire, with none of its decisions: the Cookie header removed, these headers added, and the response marked
    /// <c>Cache-Control: private, no-store</c> and <c>Pragma: no-cache</c> (target b2).
    /// </param>
    public static async Task<int> BareProxyAsync(int port, string upstream, string? editsFile = null)
    {
        // The same host builder as the gateway, so the comparison isolates the gateway's own logic. No log providers:
        // the gateway's defaults log nothing per request either (appsettings.json turns request logging off).
        var builder = WebApplication.CreateBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        var transforms = editsFile is null ? null : Edits(await File.ReadAllLinesAsync(editsFile));
        builder.Services.AddReverseProxy().LoadFromMemory(
            [new RouteConfig { RouteId = "all", ClusterId = "upstream", Match = new RouteMatch { Path = "{**catch-all}" }, Transforms = transforms }],
            [new ClusterConfig { ClusterId = "upstream", Destinations = new Dictionary<string, DestinationConfig> { ["a"] = new() { Address = upstream } } }]);
        var app = builder.Build();
        app.MapReverseProxy();
        await app.RunAsync();
        return 0;
    }

    private static List<Dictionary<string, string>> Edits(IEnumerable<string> lines)
    {
        var transforms = new List<Dictionary<string, string>> { new() { ["RequestHeaderRemove"] = "Cookie" } };
        foreach (var line in lines.Where(l => l.Contains(':')))
        {
            var colon = line.IndexOf(':');
            transforms.Add(new() { ["RequestHeader"] = line[..colon].Trim(), ["Set"] = line[(colon + 1)..].Trim() });
        }
        transforms.Add(new() { ["ResponseHeader"] = "Cache-Control", ["Set"] = "private, no-store", ["When"] = "Always" });
        transforms.Add(new() { ["ResponseHeader"] = "Pragma", ["Set"] = "no-cache", ["When"] = "Always" });
        return transforms;
    }
}
