using System.Text.Json;
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
/// OpenID Connect handler's discovery and called with its back-channel client and the client's credentials.
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
            using var response = await oidc.Backchannel.PostAsync(configuration.TokenEndpoint, Form(new()
            {
                ["grant_type"] = "refresh_token",
                ["refresh_token"] = refreshToken,
            }), timeout.Token);
            using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync(timeout.Token));
            var root = body.RootElement;
            if (response.IsSuccessStatusCode && root.TryGetProperty("access_token", out var access) && access.GetString() is { Length: > 0 } accessToken)
            {
                DateTimeOffset? expires = root.TryGetProperty("expires_in", out var seconds) && seconds.TryGetInt32(out var s) ? time.GetUtcNow().AddSeconds(s) : null;
                var rotated = root.TryGetProperty("refresh_token", out var refresh) ? refresh.GetString() : null;
                return new RefreshOutcome.Refreshed(accessToken, expires, rotated);
            }
            var error = root.TryGetProperty("error", out var e) ? e.GetString() ?? "unknown" : "unknown";
            // Only invalid_grant says the refresh token is dead. A rate limit, a client-credential problem (a secret being
            // rotated) or an outage says nothing about the user's session, which must not end for it.
            return error == "invalid_grant" ? new RefreshOutcome.Refused(error) : new RefreshOutcome.Unavailable($"HTTP {(int)response.StatusCode} {Sanitized(error)}");
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException or JsonException or InvalidOperationException)
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
            var address = configuration.RevocationEndpoint;
            using var response = await oidc.Backchannel.PostAsync(address, Form(new()
            {
                ["token"] = refreshToken,
                ["token_type_hint"] = "refresh_token",
            }), timeout.Token);
            return response.IsSuccessStatusCode;
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException or InvalidOperationException)
        {
            return false;
        }
    }

    private static string Sanitized(string error) =>
        error.Length <= 64 && error.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.') ? error : "error";

    private FormUrlEncodedContent Form(Dictionary<string, string> fields)
    {
        fields["client_id"] = oidc.Settings.ClientId!;
        fields["client_secret"] = oidc.Settings.ClientSecret!;
        return new FormUrlEncodedContent(fields);
    }
}
