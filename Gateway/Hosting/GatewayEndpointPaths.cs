using Gateway.Configuration;
using Gateway.Routing;

namespace Gateway.Hosting;

/// <summary>Every path the gateway answers itself, from <c>Gateway:Paths</c> and <c>Gateway:Logout:Paths</c>: mapped from here, linked from here, reserved from here.</summary>
internal sealed class GatewayEndpointPaths(StartupCheck startup) : IGatewayEndpointPaths
{
    // From the registration-time binding rather than IOptions: `config check` validates a route file even where
    // the rest of the settings would not start a gateway (no Redis on an ops laptop).
    private readonly GatewayPathOptions _paths = startup.Settings.Paths;

    public string Login => _paths.EffectiveLogin;
    public string OidcCallback => _paths.EffectiveOidcCallback;
    public string BackchannelLogout => _paths.EffectiveBackchannelLogout;
    public string Jwks => _paths.EffectiveJwks;
    public string Health => _paths.EffectiveHealth;
    public string Ready => _paths.EffectiveReady;
    public string Admin => _paths.EffectiveAdmin;
    public string AdminRevoke => _paths.EffectiveAdminRevoke;
    public string MySessions => _paths.EffectiveMySessions;
    public string MySessionsRevoke => _paths.EffectiveMySessions + "/revoke";
    public IReadOnlyList<string> Logout { get; } = startup.Settings.Logout.EffectivePaths(startup.Settings.Paths);

    public IEnumerable<string> Paths => [Login, OidcCallback, BackchannelLogout, Jwks, Health, Ready, Admin, AdminRevoke, MySessions, MySessionsRevoke, .. Logout];
}
