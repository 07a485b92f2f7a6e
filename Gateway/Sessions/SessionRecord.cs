namespace Gateway.Sessions;

/// <summary>What the store keeps for a session, protected with DataProtection before it leaves the process.</summary>
internal sealed record SessionRecord
{
    public required string UserId { get; init; }
    public string? Email { get; init; }
    public string? Name { get; init; }
    public string[] Roles { get; init; } = [];
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>
    /// When the store wrote the session, by the store's clock (<see cref="ISessionStore.NowAsync"/>): what revocation
    /// marks are compared with. Null in records written before it existed; <see cref="CreatedAt"/> stands in then.
    /// </summary>
    public DateTimeOffset? IssuedAt { get; init; }

    /// <summary>What revocation marks are compared with: <see cref="IssuedAt"/>, or <see cref="CreatedAt"/> for records older than it.</summary>
    public DateTimeOffset IssuedOrCreatedAt() => IssuedAt ?? CreatedAt;
    public required DateTimeOffset AbsoluteExpiresAt { get; init; }

    /// <summary>
    /// When the user last signed in interactively (the dev-user form, or the id_token's <c>auth_time</c>); what a
    /// policy's <c>MaxAuthenticationAge</c> is checked against. Null when unknown (no <c>auth_time</c>, a session adopted
    /// from the CMS): too old for every such policy. Neither a session refresh nor a token refresh changes it.
    /// </summary>
    public DateTimeOffset? AuthenticatedAt { get; init; }

    /// <summary>The id_token's <c>acr</c> at that sign-in, checked against a policy's <c>AcrValues</c>.</summary>
    public string? Acr { get; init; }

    /// <summary>
    /// The store's hash of the session id this record was written for. Checked on every read, so a Redis writer
    /// cannot move another user's record under a session it holds the cookie of.
    /// </summary>
    public string? SessionHash { get; init; }

    /// <summary>
    /// With <c>Gateway:Session:CookieDomain</c>: SHA-256 (base64url) of the host-only companion cookie set at sign-in.
    /// A session cookie a sibling subdomain planted for the parent domain arrives without the matching companion.
    /// </summary>
    public string? BindingHash { get; init; }

    /// <summary>A short description of the browser and device at sign-in ("Firefox on Linux"), for "your sessions".</summary>
    public string? Device { get; init; }

    /// <summary>The client address at sign-in, truncated (IPv4 /24, IPv6 /48), for "your sessions".</summary>
    public string? Network { get; init; }

    /// <summary><c>dev</c>, <c>oidc</c>, or <c>adopted</c> (taken over from the CMS's own session at cut-over).</summary>
    public required string Method { get; init; }

    /// <summary>The provider's id_token, kept server-side for the end-session id_token_hint.</summary>
    public string? IdToken { get; init; }

    /// <summary>The provider's access token, forwarded to routes that ask for it; never in a cookie.</summary>
    public string? AccessToken { get; init; }

    /// <summary>When <see cref="AccessToken"/> expires; it is refreshed a margin before.</summary>
    public DateTimeOffset? AccessTokenExpiresAt { get; init; }

    /// <summary>The provider's refresh token: used once per refresh (rotated) and revoked at the provider on logout.</summary>
    public string? RefreshToken { get; init; }

    /// <summary>The provider's session id (<c>sid</c>), for back-channel logout.</summary>
    public string? ProviderSessionId { get; init; }

    /// <summary>
    /// The CMS's own session cookie value the gateway signed the CMS in with (<c>Gateway:LegacySignIn</c>), as a browser
    /// would send it; added to every upstream request of this session.
    /// </summary>
    public string? CmsSession { get; init; }

    /// <summary>The CMS user id of that session, as a JSON value (number or string), to write the CMS record again.</summary>
    public string? CmsUserId { get; init; }
}
