using Gateway.Configuration;
using Microsoft.Extensions.Options;

namespace Gateway.Logout;

/// <summary>Where the CMS keeps its own sessions (the shared Redis), so logout can end them too.</summary>
internal interface ILegacySessionStore
{
    /// <summary>Deletes the key; throws <see cref="Sessions.StoreUnavailableException"/> when the store cannot be reached.</summary>
    Task<bool> DeleteAsync(string key, CancellationToken cancellationToken);
}

/// <summary>Without Redis there is no shared store to purge; the cookies are still cleared.</summary>
internal sealed class NoLegacySessionStore : ILegacySessionStore
{
    public Task<bool> DeleteAsync(string key, CancellationToken cancellationToken) => Task.FromResult(false);
}

/// <summary>
/// The CMS's express-session cookies: <c>s:&lt;id&gt;.&lt;signature&gt;</c>, the signature being
/// base64(HMAC-SHA256(secret, id)) without padding. Only a cookie signed with a configured secret
/// names a session we delete, so a forged cookie cannot make the gateway delete someone else's.
/// </summary>
internal sealed class LegacySessionCookies(IOptions<LogoutOptions> options)
{
    public IReadOnlyList<LegacyCookieOptions> Cookies { get; } = options.Value.LegacyCookies;

    /// <summary>The session id, when <paramref name="value"/> carries a valid signature by one of the secrets.</summary>
    public static string? VerifiedSessionId(string? value, IReadOnlyList<string> secrets) =>
        LegacySignIn.ExpressSessionFormat.VerifiedSessionId(value, secrets);
}
