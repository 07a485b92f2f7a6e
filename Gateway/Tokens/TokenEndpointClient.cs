using Duende.IdentityModel;
using Duende.IdentityModel.Client;
using Gateway.Login;

namespace Gateway.Tokens;

/// <summary>The outcome of a refresh at the provider.</summary>
internal abstract record RefreshOutcome
{
    public sealed record Refreshed(string AccessToken, DateTimeOffset? ExpiresAt, string? RefreshToken) : RefreshOutcome;

    /// <summary>The provider refused the refresh token (revoked, reused, expired): the session must end.</summary>
    public sealed record Refused(string Error) : RefreshOutcome;

    /// <summary>The provider could not be asked: nothing is known.</summary>
    public sealed record Unavailable(string Reason) : RefreshOutcome;
}

/// <summary>
/// The provider's token endpoint (refresh_token grant) and revocation endpoint (RFC 7009), found through the
/// OpenID Connect handler's discovery and called with its back-channel client, through Duende.IdentityModel's protocol
/// client, with the client's credentials in the body (client_secret_post, as the login's code exchange sends them).
/// Response bodies are read for their fields only and never logged.
/// </summary>
internal sealed class TokenEndpointClient(OidcProvider oidc, TimeProvider time)
{
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(5);

    public async Task<RefreshOutcome> RefreshAsync(string refreshToken, CancellationToken cancellationToken)
    {
        try
        {
            // One budget for discovery and the call together, shorter than the refresh lock.
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(CallTimeout);
            var configuration = await oidc.GetConfigurationAsync(timeout.Token);
            using var request = Credentials(new RefreshTokenRequest { Address = configuration.TokenEndpoint, RefreshToken = refreshToken });
            using var response = await oidc.Backchannel.RequestRefreshTokenAsync(request, timeout.Token);
            if (!response.IsError && response.AccessToken is { Length: > 0 } accessToken)
            {
                DateTimeOffset? expires = response.ExpiresIn > 0 ? time.GetUtcNow().AddSeconds(response.ExpiresIn) : null;
                return new RefreshOutcome.Refreshed(accessToken, expires, response.RefreshToken);
            }
            // The protocol client answers a failure it caught (a refused connection, a timeout, a body that is not JSON)
            // as an error response; only the provider's own invalid_grant says the refresh token is dead. A rate limit, a
            // client-credential problem (a secret being rotated) or an outage says nothing about the user's session,
            // which must not end for it.
            if (response.ErrorType == ResponseErrorType.Exception) return new RefreshOutcome.Unavailable(response.Exception?.GetType().Name ?? "Exception");
            var error = response.Error ?? "unknown";
            return error == "invalid_grant" && response.ErrorType == ResponseErrorType.Protocol
                ? new RefreshOutcome.Refused(error)
                : new RefreshOutcome.Unavailable($"HTTP {(int)response.HttpStatusCode} {Sanitized(error)}");
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException or InvalidOperationException)
        {
            return new RefreshOutcome.Unavailable(ex.GetType().Name);
        }
    }

    /// <summary>Revokes a refresh token at the provider; false when it has no revocation endpoint or could not be reached.</summary>
    public async Task<bool> RevokeAsync(string refreshToken, CancellationToken cancellationToken)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(CallTimeout);
            var configuration = await oidc.GetConfigurationAsync(timeout.Token);
            if (string.IsNullOrEmpty(configuration.RevocationEndpoint)) return false;
            using var request = Credentials(new TokenRevocationRequest
            {
                Address = configuration.RevocationEndpoint,
                Token = refreshToken,
                TokenTypeHint = OidcConstants.TokenTypes.RefreshToken,
            });
            using var response = await oidc.Backchannel.RevokeTokenAsync(request, timeout.Token);
            return !response.IsError;
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException or InvalidOperationException)
        {
            return false;
        }
    }

    private static string Sanitized(string error) =>
        error.Length <= 64 && error.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.') ? error : "error";

    private T Credentials<T>(T request) where T : ProtocolRequest
    {
        request.ClientId = oidc.Settings.ClientId!;
        request.ClientSecret = oidc.Settings.ClientSecret;
        request.ClientCredentialStyle = ClientCredentialStyle.PostBody;
        return request;
    }
}
