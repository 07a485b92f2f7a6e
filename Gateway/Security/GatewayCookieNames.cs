namespace Gateway.Security;

/// <summary>
/// Every cookie the gateway sets, in one place: none of them is ever sent upstream, and an upstream may never set one
/// (<see cref="Sessions.SessionCookies.IsGatewayCookieName"/>). On https each carries a prefix the browser enforces:
/// <c>__Host-</c> (this host only, path /, Secure), or <c>__Secure-</c> for a session cookie shared with a cookie domain.
/// </summary>
internal static class GatewayCookieNames
{
    /// <summary>The session cookie's default name (<c>Gateway:Session:CookieName</c>).</summary>
    public const string Session = "gw_session";

    /// <summary>The anti-forgery cookie of the gateway's forms.</summary>
    public const string Antiforgery = "gw_af";

    /// <summary>
    /// With a cookie domain, the host-only companion of the session cookie: a sibling subdomain can plant a session
    /// cookie for the parent domain, never this one for our host (on https).
    /// </summary>
    public const string Binding = "gw_bind";

    /// <summary>Prefix of the OpenID Connect handler's correlation and nonce cookies.</summary>
    public const string OidcPrefix = "gw_oidc_";

    /// <summary>The OpenID Connect correlation cookie (the handler appends the flow's id).</summary>
    public const string OidcCorrelation = OidcPrefix + "corr.";

    /// <summary>The OpenID Connect nonce cookie (the handler appends the nonce's hash).</summary>
    public const string OidcNonce = OidcPrefix + "nonce.";

    public const string HostPrefix = "__Host-";

    public const string SecurePrefix = "__Secure-";

    /// <summary>A host-only cookie's name as set: <c>__Host-</c> on https.</summary>
    public static string HostOnly(string name, bool https) => https ? HostPrefix + name : name;

    /// <summary>
    /// Whether <paramref name="name"/> is, in any case and with or without a prefix, one of the gateway's cookies, the
    /// session cookie being named <paramref name="sessionCookieName"/>.
    /// </summary>
    public static bool IsGatewayCookie(ReadOnlySpan<char> name, string sessionCookieName)
    {
        if (name.StartsWith(HostPrefix, StringComparison.OrdinalIgnoreCase)) name = name[HostPrefix.Length..];
        else if (name.StartsWith(SecurePrefix, StringComparison.OrdinalIgnoreCase)) name = name[SecurePrefix.Length..];
        return name.Equals(sessionCookieName, StringComparison.OrdinalIgnoreCase)
            || name.Equals(Antiforgery, StringComparison.OrdinalIgnoreCase)
            || name.Equals(Binding, StringComparison.OrdinalIgnoreCase)
            || name.StartsWith(OidcPrefix, StringComparison.OrdinalIgnoreCase);
    }
}
