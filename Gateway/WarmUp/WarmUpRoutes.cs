using Gateway.Hosting;
using Gateway.Routing;
using Yarp.ReverseProxy.Configuration;

namespace Gateway.WarmUp;

/// <summary>
/// The warm-up's own YARP routes, served next to the route file's: one for signed-in users with every identity header
/// and the assertion, one public, both towards the replica's own sink. They exist only while the warm-up runs. Their
/// ids start with <see cref="ProxyConfigValidator.ReservedIdPrefix"/>, which a route file may not use (YARP would
/// reject both providers' routes on a duplicate id).
/// </summary>
internal sealed class WarmUpRoutes(WarmUpState state) : IProxyConfigProvider
{
    public const string SignedInRouteId = ProxyConfigValidator.ReservedIdPrefix + "-warm-up-signed";
    public const string PublicRouteId = ProxyConfigValidator.ReservedIdPrefix + "-warm-up-public";
    private const string ClusterId = ProxyConfigValidator.ReservedIdPrefix + "-warm-up";

    public static readonly string[] RouteIds = [SignedInRouteId, PublicRouteId];
    private volatile ProxyConfigVersion _config = ProxyConfigVersion.Empty();

    public string SignedInPath { get; } = state.Root + "/signed/page";
    public string PublicPath { get; } = state.Root + "/public/page";

    public IProxyConfig GetConfig() => _config;

    public static bool IsWarmUpRoute(RouteConfig route) => route.RouteId is SignedInRouteId or PublicRouteId;

    // Answered like a small page from a CMS (HTML with a length, a few KB), so the response side of the proxy, not only
    // the request side, runs its usual course while warming.
    private static readonly byte[] Page = System.Text.Encoding.UTF8.GetBytes(
        "<!doctype html><html><head><title>warm-up</title></head><body>" + string.Concat(Enumerable.Repeat("<p>The gateway warms up.</p>", 64)) + "</body></html>");

    /// <summary>The sink: while the warm-up runs, 200 with the run's nonce; otherwise 404.</summary>
    public static IResult Sink(HttpContext context, WarmUpState state)
    {
        if (!state.Running) return Results.NotFound();
        context.Response.Headers[WarmUpState.NonceHeader] = state.Nonce;
        context.Response.Headers.CacheControl = "no-cache";
        return Results.Bytes(Page, "text/html; charset=utf-8");
    }

    public void Open(Uri self)
    {
        RouteConfig Route(string id, string policy, string path) => new()
        {
            RouteId = id,
            ClusterId = ClusterId,
            AuthorizationPolicy = policy,
            // Ahead of every route-file route (they start at FirstForRoutes), behind the gateway's own endpoints.
            Order = GatewayEndpointOrder.OtherMethods,
            Match = new RouteMatch { Path = path },
            // The sink sees the Host the warm-up sent, so host filtering (AllowedHosts) judges both hops alike.
            Transforms = [new Dictionary<string, string> { ["RequestHeaderOriginalHost"] = "true" }],
        };
        var cluster = new ClusterConfig
        {
            ClusterId = ClusterId,
            Destinations = new Dictionary<string, DestinationConfig> { ["self"] = new() { Address = new Uri(self, state.SinkPath).ToString() } },
        };
        Swap(new ProxyConfigVersion([Route(SignedInRouteId, "default", state.Root + "/signed/{**rest}"), Route(PublicRouteId, "anonymous", state.Root + "/public/{**rest}")], [cluster]));
    }

    /// <summary>Removes the routes; true if there were any (their removal rebuilds the endpoint table).</summary>
    public bool Close()
    {
        // Signalling an unchanged empty config would still make YARP rebuild every endpoint.
        if (_config.Routes.Count == 0 && _config.Clusters.Count == 0) return false;
        Swap(ProxyConfigVersion.Empty());
        return true;
    }

    private void Swap(ProxyConfigVersion next)
    {
        var previous = _config;
        _config = next;
        previous.SignalChange();
    }
}
