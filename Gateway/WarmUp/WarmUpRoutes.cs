using Gateway.Routing;
using Yarp.ReverseProxy.Configuration;

namespace Gateway.WarmUp;

/// <summary>
/// The warm-up's own YARP routes, served next to the route file's: one for signed-in users with every identity header
/// and the assertion, one public, both towards the replica's own sink. They exist only while the warm-up runs.
/// </summary>
internal sealed class WarmUpRoutes(WarmUpState state) : IProxyConfigProvider
{
    public const string ClusterId = "_gateway-warm-up";
    private volatile ProxyConfigVersion _config = ProxyConfigVersion.Empty();

    public string SignedInPath => state.Root + "/signed/page";
    public string PublicPath => state.Root + "/public/page";

    public IProxyConfig GetConfig() => _config;

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
        };
        var cluster = new ClusterConfig
        {
            ClusterId = ClusterId,
            Destinations = new Dictionary<string, DestinationConfig> { ["self"] = new() { Address = new Uri(self, state.SinkPath).ToString() } },
        };
        Swap(new ProxyConfigVersion([Route("_gateway-warm-up-signed", "default", state.Root + "/signed/{**rest}"), Route("_gateway-warm-up-public", "anonymous", state.Root + "/public/{**rest}")], [cluster]));
    }

    public void Close() => Swap(ProxyConfigVersion.Empty());

    private void Swap(ProxyConfigVersion next)
    {
        var previous = _config;
        _config = next;
        previous.SignalChange();
    }
}
