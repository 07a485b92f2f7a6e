using Gateway.Configuration;
using Gateway.Routing;

namespace Gateway.Hosting;

/// <summary>Every path the gateway answers itself.</summary>
internal sealed class GatewayEndpointPaths(IConfiguration configuration) : IGatewayEndpointPaths
{
    // Bound directly rather than through IOptions: `config check` validates a route file even where the
    // rest of the settings would not start a gateway (no Redis on an ops laptop).
    private readonly GatewayOptions _options = GatewayOptions.Read(configuration);

    public IEnumerable<string> Paths =>
    [
        "/login", "/healthz", "/readyz", Identity.JwksEndpoint.Path, Logout.BackchannelLogoutService.Path,
        Admin.SessionAdminEndpoint.Path, _options.Login.Oidc.CallbackPath, .. _options.Logout.EffectivePaths,
    ];
}
