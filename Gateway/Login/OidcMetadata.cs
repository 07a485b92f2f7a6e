using Gateway.Configuration;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Protocols;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;

namespace Gateway.Login;

/// <summary>The provider's discovery document and signing keys, fetched and refreshed by Microsoft.IdentityModel.</summary>
internal sealed class OidcMetadata
{
    private readonly ConfigurationManager<OpenIdConnectConfiguration>? _manager;

    public OidcMetadata(IOptions<GatewayOptions> options)
    {
        var oidc = options.Value.Login.Oidc;
        Settings = oidc;
        if (!options.Value.Login.OidcEnabled) return;
        var address = oidc.Authority!.TrimEnd('/') + "/.well-known/openid-configuration";
        _manager = new ConfigurationManager<OpenIdConnectConfiguration>(address, new OpenIdConnectConfigurationRetriever(),
            new HttpDocumentRetriever { RequireHttps = !oidc.AllowHttpAuthority })
        {
            AutomaticRefreshInterval = TimeSpan.FromHours(12),
            RefreshInterval = TimeSpan.FromSeconds(30),
        };
    }

    public OidcOptions Settings { get; }

    public bool Enabled => _manager is not null;

    public Task<OpenIdConnectConfiguration> GetAsync(CancellationToken cancellationToken) =>
        (_manager ?? throw new InvalidOperationException("OIDC is not configured.")).GetConfigurationAsync(cancellationToken);

    /// <summary>After a key the provider rotated in is not found: fetch again (rate-limited by RefreshInterval).</summary>
    public void RequestRefresh() => _manager?.RequestRefresh();
}
