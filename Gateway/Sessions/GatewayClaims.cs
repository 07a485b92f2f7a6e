using System.Security.Claims;

namespace Gateway.Sessions;

/// <summary>Claim types of the gateway's principal; roles use <see cref="Role"/> so policies can require them.</summary>
internal static class GatewayClaims
{
    public const string AuthenticationType = "GatewaySession";
    public const string UserId = "sub";
    public const string Email = "email";
    public const string Name = "name";
    public const string Role = "role";
    public const string Method = "amr";
    public const string IdToken = "gw:id_token";
    public const string ProviderSessionId = "sid";
    public const string AccessToken = "gw:access_token";
    public const string AccessTokenExpiresAt = "gw:access_token_expires";
    public const string RefreshToken = "gw:refresh_token";
    /// <summary>When the user signed in interactively, in Unix milliseconds (the provider's <c>auth_time</c> for OIDC).</summary>
    public const string AuthenticatedAt = "gw:auth_time";
    public const string Acr = "acr";

    /// <summary>The principal of a session: sub, amr, email, name and one <see cref="Role"/> claim per role.</summary>
    public static ClaimsPrincipal ToPrincipal(CachedRecord record)
    {
        var identity = new ClaimsIdentity(AuthenticationType, Name, Role);
        // Made with the identity as their subject, so AddClaims takes them as they are instead of cloning each.
        identity.AddClaims(ClaimsOf(record, identity));
        return new ClaimsPrincipal(identity);
    }

    /// <summary>A session's claims, for <paramref name="subject"/>: what both the eager and the lazy identity hold.</summary>
    internal static List<Claim> ClaimsOf(CachedRecord record, ClaimsIdentity subject)
    {
        var claims = new List<Claim>(4 + record.Roles.Length) { Of(UserId, record.UserId), Of(Method, record.Method) };
        if (record.Email is not null) claims.Add(Of(Email, record.Email));
        if (record.Name is not null) claims.Add(Of(Name, record.Name));
        foreach (var role in record.Roles) claims.Add(Of(Role, role));
        return claims;

        Claim Of(string type, string value) => new(type, value, ClaimValueTypes.String, ClaimsIdentity.DefaultIssuer, ClaimsIdentity.DefaultIssuer, subject);
    }

    /// <summary>The same principal with its claims built on first read (<see cref="SessionIdentity"/>), for proxied requests.</summary>
    public static ClaimsPrincipal ToLazyPrincipal(CachedRecord record) => new(new SessionIdentity(record));

    /// <summary>Builds the record a login hands to sign-in; the id_token and sid stay server-side.</summary>
    public static SessionRecord ToRecord(ClaimsPrincipal principal, DateTimeOffset now, TimeSpan absoluteLifetime)
    {
        var userId = principal.FindFirst(UserId)?.Value;
        if (string.IsNullOrEmpty(userId)) throw new InvalidOperationException("The signed-in principal has no user id claim.");
        return new SessionRecord
        {
            UserId = userId,
            Email = principal.FindFirst(Email)?.Value,
            Name = principal.FindFirst(Name)?.Value,
            Roles = principal.FindAll(Role).Select(c => c.Value).Distinct(StringComparer.Ordinal).ToArray(),
            CreatedAt = now,
            AbsoluteExpiresAt = now + absoluteLifetime,
            Method = principal.FindFirst(Method)?.Value ?? "unknown",
            IdToken = principal.FindFirst(IdToken)?.Value,
            ProviderSessionId = principal.FindFirst(ProviderSessionId)?.Value,
            AccessToken = principal.FindFirst(AccessToken)?.Value,
            AccessTokenExpiresAt = long.TryParse(principal.FindFirst(AccessTokenExpiresAt)?.Value, out var expires) ? DateTimeOffset.FromUnixTimeSeconds(expires) : null,
            RefreshToken = principal.FindFirst(RefreshToken)?.Value,
            AuthenticatedAt = long.TryParse(principal.FindFirst(AuthenticatedAt)?.Value, out var authenticated) ? DateTimeOffset.FromUnixTimeMilliseconds(authenticated) : null,
            Acr = principal.FindFirst(Acr)?.Value,
        };
    }
}
