using Yarp.ReverseProxy.Configuration;

namespace Gateway.Routing;

/// <summary>Routes and clusters read from the route file, or the problems that stopped them.</summary>
internal sealed record ProxyConfigSnapshot(
    IReadOnlyList<RouteConfig> Routes,
    IReadOnlyList<ClusterConfig> Clusters,
    IReadOnlyList<string> Errors)
{
    public bool IsValid => Errors.Count == 0;

    public static ProxyConfigSnapshot Failed(params string[] errors) => new([], [], errors);
}
