using System.Net;

namespace Gateway.Routing;

/// <summary><c>Gateway:Forwarding</c>: which proxies in front of the gateway may tell it the client's scheme and address.</summary>
public sealed class ForwardingOptions
{
    /// <summary>Addresses of trusted proxies (the edge load balancer). Default: none, so X-Forwarded-* from clients is ignored.</summary>
    public string[] KnownProxies { get; set; } = [];

    /// <summary>CIDR networks of trusted proxies, e.g. <c>10.0.0.0/8</c>. Default: none.</summary>
    public string[] KnownNetworks { get; set; } = [];

    internal void Validate(Action<string, string> add)
    {
        for (var i = 0; i < KnownProxies.Length; i++)
            if (!IPAddress.TryParse(KnownProxies[i], out _))
                add($"Forwarding:KnownProxies:{i}", $"'{KnownProxies[i]}' is not an IP address.");
        for (var i = 0; i < KnownNetworks.Length; i++)
            if (!System.Net.IPNetwork.TryParse(KnownNetworks[i], out _))
                add($"Forwarding:KnownNetworks:{i}", $"'{KnownNetworks[i]}' is not a CIDR network such as 10.0.0.0/8.");
    }
}
