using Gateway.Hosting;
using Yarp.ReverseProxy.Configuration;

namespace Gateway.Routing;

/// <summary>
/// Validates a parsed route file: YARP's own rules (match, transforms, policies known to the
/// authorization system) plus what YARP lets slide but breaks a gateway: a route naming a missing
/// cluster, a cluster with no destinations, a destination that is not an absolute http(s) URL,
/// a route that would shadow a gateway endpoint, an id the gateway keeps for its own routes, an empty file.
/// Reports every error.
/// </summary>
internal sealed class ProxyConfigValidator(IConfigValidator yarpValidator, IEnumerable<IGatewayEndpointPaths> reservedPaths)
{
    /// <summary>Route and cluster ids the gateway adds itself (the warm-up's) start with this; a route file may not use it.</summary>
    public const string ReservedIdPrefix = "_gateway";

    public async Task<IReadOnlyList<string>> ValidateAsync(string path, ProxyConfigSnapshot snapshot)
    {
        var errors = new List<string>(snapshot.Errors);
        if (!snapshot.IsValid) return errors;

        if (snapshot.Routes.Count == 0)
            errors.Add($"{path}: ReverseProxy.Routes: no routes; the gateway would answer 404 to everything.");

        var clusterIds = new HashSet<string>(snapshot.Clusters.Select(c => c.ClusterId), StringComparer.OrdinalIgnoreCase);
        var reserved = reservedPaths.SelectMany(p => p.Paths).ToHashSet(StringComparer.OrdinalIgnoreCase);

        foreach (var route in snapshot.Routes)
        {
            foreach (var ex in await yarpValidator.ValidateRouteAsync(route))
                errors.Add($"{path}: route '{route.RouteId}': {ex.Message}");
            if (string.IsNullOrEmpty(route.ClusterId))
                errors.Add($"{path}: route '{route.RouteId}', field 'ClusterId': missing.");
            else if (!clusterIds.Contains(route.ClusterId))
                errors.Add($"{path}: route '{route.RouteId}', field 'ClusterId': cluster '{route.ClusterId}' is not defined under ReverseProxy.Clusters.");
            if (route.Order < GatewayEndpointOrder.FirstForRoutes)
                errors.Add($"{path}: route '{route.RouteId}', field 'Order': {route.Order} is reserved for the gateway's own endpoints; use {GatewayEndpointOrder.FirstForRoutes} or more.");
            // YARP merges every provider's routes and rejects the whole set on a duplicate id: the warm-up's would be lost.
            if (route.RouteId.StartsWith(ReservedIdPrefix, StringComparison.OrdinalIgnoreCase))
                errors.Add($"{path}: route '{route.RouteId}': ids starting with '{ReservedIdPrefix}' are the gateway's own.");
            if (route.Match?.Path is { } matchPath && reserved.Contains(matchPath.TrimEnd('/')))
                errors.Add($"{path}: route '{route.RouteId}', field 'Match.Path': '{matchPath}' is a gateway endpoint and is never proxied.");
        }

        foreach (var cluster in snapshot.Clusters)
        {
            if (cluster.ClusterId.StartsWith(ReservedIdPrefix, StringComparison.OrdinalIgnoreCase))
                errors.Add($"{path}: cluster '{cluster.ClusterId}': ids starting with '{ReservedIdPrefix}' are the gateway's own.");
            foreach (var ex in await yarpValidator.ValidateClusterAsync(cluster))
                errors.Add($"{path}: cluster '{cluster.ClusterId}': {ex.Message}");
            if (cluster.Destinations is null || cluster.Destinations.Count == 0)
            {
                errors.Add($"{path}: cluster '{cluster.ClusterId}', field 'Destinations': no destinations; every request to its routes would fail with 503.");
                continue;
            }
            foreach (var (destinationId, destination) in cluster.Destinations)
            {
                if (!Uri.TryCreate(destination.Address, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
                    errors.Add($"{path}: cluster '{cluster.ClusterId}', field 'Destinations.{destinationId}.Address': '{destination.Address}' is not an absolute http(s) URL.");
            }
        }
        return errors;
    }
}

/// <summary>Paths the gateway answers itself; a route may not claim them.</summary>
internal interface IGatewayEndpointPaths
{
    IEnumerable<string> Paths { get; }
}
