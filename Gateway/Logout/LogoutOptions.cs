namespace Gateway.Logout;

/// <summary><c>Gateway:Logout</c>.</summary>
public sealed class LogoutOptions
{
    /// <summary>Paths the gateway answers as logout (GET and POST), never proxied. Default <c>{Gateway:Paths:Prefix}/logout</c>.</summary>
    /// <remarks>Empty by default: the configuration binder appends to an initialised array instead of replacing it.</remarks>
    public string[] Paths { get; set; } = [];

    internal IReadOnlyList<string> EffectivePaths(Hosting.GatewayPathOptions paths) =>
        Paths.Length == 0 ? [paths.DefaultLogout] : Paths.Distinct(StringComparer.OrdinalIgnoreCase).ToArray();

    /// <summary>Public page after logout when no valid returnUrl is given. Default <c>/</c>.</summary>
    public string RedirectTo { get; set; } = "/";

    /// <summary>The CMS's own session cookies to clear and purge in the shared Redis.</summary>
    public List<LegacyCookieOptions> LegacyCookies { get; set; } = [];

    internal void Validate(Action<string, string> add)
    {
        for (var i = 0; i < Paths.Length; i++)
            if (!Paths[i].StartsWith('/') || Paths[i].Contains('?') || Paths[i].Contains('{'))
                add($"Logout:Paths:{i}", $"'{Paths[i]}' must be a literal path starting with '/'.");
        if (!Security.LocalRedirect.IsLocal(RedirectTo)) add("Logout:RedirectTo", $"'{RedirectTo}' must be a local path such as '/'.");
        for (var i = 0; i < LegacyCookies.Count; i++) LegacyCookies[i].Validate(add, $"Logout:LegacyCookies:{i}");
    }
}

/// <summary>One legacy CMS cookie (express-session) that logout clears and whose session it purges.</summary>
public sealed class LegacyCookieOptions
{
    public string Name { get; set; } = "connect.sid";
    public string Path { get; set; } = "/";
    public string? Domain { get; set; }

    /// <summary>Key prefix of the CMS's sessions in the shared Redis. Default <c>sess:</c> (connect-redis).</summary>
    public string RedisKeyPrefix { get; set; } = "sess:";

    /// <summary>express-session signing secret(s); the cookie's signature is checked before anything is deleted.</summary>
    public string[] Secrets { get; set; } = [];

    internal void Validate(Action<string, string> add, string key)
    {
        if (string.IsNullOrWhiteSpace(Name)) add($"{key}:Name", "is required.");
        if (!Path.StartsWith('/')) add($"{key}:Path", "must start with '/'.");
        if (Secrets.Length == 0 || Secrets.Any(string.IsNullOrEmpty)) add($"{key}:Secrets", "must list the CMS's session secret(s); without them no cookie can be verified.");
        if (string.IsNullOrEmpty(RedisKeyPrefix)) add($"{key}:RedisKeyPrefix", "is required.");
    }
}
