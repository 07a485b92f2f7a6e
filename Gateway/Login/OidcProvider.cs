using Gateway.Configuration;
using Microsoft.AspNetCore.Authentication.OpenIdConnect;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using Microsoft.IdentityModel.Tokens;

namespace Gateway.Login;

/// <summary>
/// The configured provider as the rest of the gateway sees it: the OpenID Connect handler's own discovery
/// (cached and refreshed by it) for end-session, and the handler's own token validation parameters for the
/// back-channel logout tokens, which the handler does not process itself.
/// </summary>
internal sealed class OidcProvider(IOptions<LoginOptions> options, IServiceProvider services)
{
    public OidcOptions Settings { get; } = options.Value.Oidc;

    public bool Enabled { get; } = options.Value.OidcEnabled;

    /// <summary>The handler's back-channel HttpClient, for the token and revocation endpoints.</summary>
    public HttpClient Backchannel => HandlerOptions.Backchannel;

    private OpenIdConnectOptions HandlerOptions =>
        services.GetRequiredService<IOptionsMonitor<OpenIdConnectOptions>>().Get(OidcRegistration.Scheme);

    public Task<OpenIdConnectConfiguration> GetConfigurationAsync(CancellationToken cancellationToken) =>
        Enabled
            ? HandlerOptions.ConfigurationManager!.GetConfigurationAsync(cancellationToken)
            : throw new InvalidOperationException("OIDC is not configured.");

    /// <summary>After a key the provider rotated in was not found: fetch the keys again (rate-limited by the handler's RefreshInterval).</summary>
    public void RequestRefresh() => HandlerOptions.ConfigurationManager?.RequestRefresh();

    /// <summary>The handler's validation parameters with the provider's issuer and keys, as the handler uses them for id_tokens.</summary>
    public TokenValidationParameters ValidationParameters(OpenIdConnectConfiguration configuration) =>
        ValidationParameters(HandlerOptions, configuration);

    internal static TokenValidationParameters ValidationParameters(OpenIdConnectOptions handler, OpenIdConnectConfiguration configuration)
    {
        var parameters = handler.TokenValidationParameters.Clone();
        parameters.ValidIssuer = configuration.Issuer;
        parameters.ValidAudience ??= handler.ClientId;
        parameters.IssuerSigningKeys = configuration.SigningKeys;
        return parameters;
    }

    public Task<TokenValidationResult> ValidateAsync(string token, TokenValidationParameters parameters) =>
        HandlerOptions.TokenHandler.ValidateTokenAsync(token, parameters);
}
