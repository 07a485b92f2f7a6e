namespace Gateway.Login;

/// <summary><c>Gateway:Login:Oidc</c>: OpenID Connect code flow with PKCE.</summary>
public sealed class OidcOptions
{
    /// <summary>Issuer URL; discovery is read from <c>{Authority}/.well-known/openid-configuration</c>. Empty: OIDC off.</summary>
    public string? Authority { get; set; }
    public string? ClientId { get; set; }
    public string? ClientSecret { get; set; }

    /// <summary>Scopes requested. Default <c>openid profile email</c>.</summary>
    /// <remarks>Empty by default: the configuration binder appends to an initialised array instead of replacing it.</remarks>
    public string[] Scopes { get; set; } = [];

    internal IReadOnlyList<string> EffectiveScopes => Scopes.Length == 0 ? ["openid", "profile", "email"] : Scopes.Distinct(StringComparer.Ordinal).ToArray();


    /// <summary>Claim holding the stable user id. Default <c>sub</c>.</summary>
    public string UserIdClaim { get; set; } = "sub";
    public string EmailClaim { get; set; } = "email";
    public string NameClaim { get; set; } = "name";

    /// <summary>Claim holding roles (a string, an array, or a space/comma separated list). Default <c>roles</c>.</summary>
    public string RolesClaim { get; set; } = "roles";

    /// <summary>Allows an http authority (test rigs on loopback). Default false.</summary>
    public bool AllowHttpAuthority { get; set; }

    /// <summary>Logout also ends the provider's session through its end_session_endpoint. Default true.</summary>
    public bool SignOutAtProvider { get; set; } = true;

    /// <summary>An access token forwarded upstream is refreshed this long before it expires. Default 30 s.</summary>
    public TimeSpan AccessTokenRefreshMargin { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Tolerated clock difference for token times. Default 1 min.</summary>
    public TimeSpan ClockSkew { get; set; } = TimeSpan.FromMinutes(1);

    internal void Validate(Action<string, string> add)
    {
        if (!Uri.TryCreate(Authority, UriKind.Absolute, out var authority))
            add("Login:Oidc:Authority", $"'{Authority}' is not an absolute URL.");
        else if (authority.Scheme != Uri.UriSchemeHttps && !AllowHttpAuthority)
            add("Login:Oidc:Authority", "must be https (set Gateway:Login:Oidc:AllowHttpAuthority=true only for a test rig).");
        if (string.IsNullOrWhiteSpace(ClientId)) add("Login:Oidc:ClientId", "is required when Login:Oidc:Authority is set.");
        if (string.IsNullOrWhiteSpace(ClientSecret)) add("Login:Oidc:ClientSecret", "is required when Login:Oidc:Authority is set.");
        if (!EffectiveScopes.Contains("openid")) add("Login:Oidc:Scopes", "must include 'openid'.");
        if (string.IsNullOrWhiteSpace(UserIdClaim)) add("Login:Oidc:UserIdClaim", "is required.");
    }
}
