namespace Gateway.Routing;

/// <summary>
/// On a dual-stack socket an IPv4 client appears as <c>::ffff:a.b.c.d</c>; YARP 2.1 forwards that form
/// in X-Forwarded-For (dotnet/yarp #2400), which downstream allow-lists and logs do not recognise.
/// Present the client as the plain IPv4 address it is, before forwarded headers and YARP read it.
/// </summary>
internal sealed class ClientAddressNormalizer(RequestDelegate next)
{
    public Task InvokeAsync(HttpContext context)
    {
        var connection = context.Connection;
        if (connection.RemoteIpAddress is { IsIPv4MappedToIPv6: true } remote) connection.RemoteIpAddress = remote.MapToIPv4();
        return next(context);
    }
}
