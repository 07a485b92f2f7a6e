using Microsoft.Extensions.Primitives;
using Yarp.ReverseProxy.Configuration;

namespace Gateway.Routing;

/// <summary>One version of the routes a provider serves YARP; <see cref="SignalChange"/> tells YARP a newer one replaced it.</summary>
// The token source lives as long as the config: YARP may still hold its change token after a swap.
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "Cancelled on swap, never disposed on purpose.")]
internal sealed class ProxyConfigVersion(IReadOnlyList<RouteConfig> routes, IReadOnlyList<ClusterConfig> clusters) : IProxyConfig
{
    private readonly CancellationTokenSource _changed = new();

    public static ProxyConfigVersion Empty() => new([], []);

    public IReadOnlyList<RouteConfig> Routes { get; } = routes;
    public IReadOnlyList<ClusterConfig> Clusters { get; } = clusters;
    public IChangeToken ChangeToken => new CancellationChangeToken(_changed.Token);

    public void SignalChange() => _changed.Cancel();
}
