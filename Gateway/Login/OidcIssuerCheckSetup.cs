using Microsoft.AspNetCore.Authentication.OpenIdConnect;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Protocols;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;

namespace Gateway.Login;

/// <summary>
/// Replaces the handler's discovery with one that refuses a document whose <c>issuer</c> is not the
/// configured authority (OpenID Connect Discovery 1.0 §4.3): a provider, a proxy or a cache answering
/// for another issuer would otherwise decide which tokens the gateway accepts.
/// </summary>
internal sealed class OidcIssuerCheckSetup : IPostConfigureOptions<OpenIdConnectOptions>
{
    public void PostConfigure(string? name, OpenIdConnectOptions o)
    {
        if (name != OidcRegistration.Scheme || o.Authority is null) return;
        o.ConfigurationManager = new ConfigurationManager<OpenIdConnectConfiguration>(
            o.MetadataAddress ?? o.Authority.TrimEnd('/') + "/.well-known/openid-configuration",
            new IssuerCheckingRetriever(o.Authority),
            new HttpDocumentRetriever(o.Backchannel) { RequireHttps = o.RequireHttpsMetadata })
        {
            RefreshInterval = o.RefreshInterval,
            AutomaticRefreshInterval = o.AutomaticRefreshInterval,
        };
    }

    private sealed class IssuerCheckingRetriever(string authority) : IConfigurationRetriever<OpenIdConnectConfiguration>
    {
        public async Task<OpenIdConnectConfiguration> GetConfigurationAsync(string address, IDocumentRetriever retriever, CancellationToken cancel)
        {
            var configuration = await OpenIdConnectConfigurationRetriever.GetAsync(address, retriever, cancel);
            if (!string.Equals(configuration.Issuer?.TrimEnd('/'), authority.TrimEnd('/'), StringComparison.Ordinal))
                throw new InvalidOperationException(
                    $"The discovery document names issuer '{configuration.Issuer}', not the configured Gateway:Login:Oidc:Authority '{authority}'.");
            return configuration;
        }
    }
}
