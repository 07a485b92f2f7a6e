namespace Gateway.Hosting;

/// <summary>Endpoint orders: the gateway's own endpoints, then their 405 for other methods, then proxy.json routes.</summary>
internal static class GatewayEndpointOrder
{
    public const int Endpoints = int.MinValue;
    public const int OtherMethods = int.MinValue + 1;
    public const int FirstForRoutes = int.MinValue + 2;
}
