namespace Gateway.Hosting;

/// <summary>
/// <c>Gateway:Paths</c>: every path the gateway answers itself. Each one not set explicitly is
/// <see cref="Prefix"/> + its default, so one setting moves them all out of the CMS's way (the CMS behind
/// usually owns <c>/login</c> already): with <c>Prefix=/_gateway</c> login is <c>/_gateway/login</c>. Logout
/// paths are <c>Gateway:Logout:Paths</c> (default <c>{Prefix}/logout</c>). Every link, redirect, form and the
/// reserved-route check follow these values.
/// </summary>
public sealed class GatewayPathOptions
{
    /// <summary>Prefix of every default gateway path, e.g. <c>/_gateway</c>. Default none.</summary>
    public string Prefix { get; set; } = "";

    /// <summary>The login page and form. Default <c>{Prefix}/login</c>.</summary>
    public string? Login { get; set; }

    /// <summary>The OpenID Connect callback registered at the provider. Default <c>{Prefix}/signin-oidc</c>.</summary>
    public string? OidcCallback { get; set; }

    /// <summary>OpenID Connect back-channel logout. Default <c>{Prefix}/backchannel-logout</c>.</summary>
    public string? BackchannelLogout { get; set; }

    /// <summary>The assertion keys. Default <c>{Prefix}/.well-known/jwks.json</c>.</summary>
    public string? Jwks { get; set; }

    /// <summary>Liveness. Default <c>{Prefix}/healthz</c>.</summary>
    public string? Health { get; set; }

    /// <summary>Readiness. Default <c>{Prefix}/readyz</c>.</summary>
    public string? Ready { get; set; }

    /// <summary>Session admin (list; <c>/revoke</c> below it). Default <c>{Prefix}/_gateway/sessions</c>, or <c>{Prefix}/sessions</c> with a prefix.</summary>
    public string? Admin { get; set; }

    /// <summary>"Your sessions" (the page; <c>/revoke</c> below it). Default <c>/_gateway/my-sessions</c>, or <c>{Prefix}/my-sessions</c> with a prefix.</summary>
    public string? MySessions { get; set; }

    internal string EffectiveLogin => Login ?? Prefix + "/login";
    internal string EffectiveMySessions => MySessions ?? (Prefix.Length > 0 ? Prefix + "/my-sessions" : "/_gateway/my-sessions");
    internal string EffectiveOidcCallback => OidcCallback ?? Prefix + "/signin-oidc";
    internal string EffectiveBackchannelLogout => BackchannelLogout ?? Prefix + "/backchannel-logout";
    internal string EffectiveJwks => Jwks ?? Prefix + "/.well-known/jwks.json";
    internal string EffectiveHealth => Health ?? Prefix + "/healthz";
    internal string EffectiveReady => Ready ?? Prefix + "/readyz";
    internal string EffectiveAdmin => Admin ?? (Prefix.Length > 0 ? Prefix + "/sessions" : "/_gateway/sessions");
    internal string EffectiveAdminRevoke => EffectiveAdmin + "/revoke";
    internal string DefaultLogout => Prefix + "/logout";

    internal void Validate(Action<string, string> add)
    {
        if (Prefix.Length > 0 && (!IsLiteralPath(Prefix) || Prefix.EndsWith('/')))
            add("Paths:Prefix", $"'{Prefix}' must be a literal path starting with '/' and not ending with '/', e.g. /_gateway.");
        foreach (var (key, value) in new[] { ("Login", Login), ("OidcCallback", OidcCallback), ("BackchannelLogout", BackchannelLogout),
                     ("Jwks", Jwks), ("Health", Health), ("Ready", Ready), ("Admin", Admin), ("MySessions", MySessions) })
        {
            if (value is not null && !IsLiteralPath(value)) add($"Paths:{key}", $"'{value}' must be a literal path starting with '/'.");
        }
    }

    internal static bool IsLiteralPath(string path) =>
        path.StartsWith('/') && path.IndexOfAny(['?', '#', '{', '}', '*', ' ', '\\']) < 0 && !path.Contains("//", StringComparison.Ordinal);
}
