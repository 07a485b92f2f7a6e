using Yarp.ReverseProxy.Configuration;

namespace Gateway.Identity;

/// <summary>
/// Per-route overrides from proxy.json route <c>Metadata</c>, parsed once when the route is built:
/// <c>Gateway.IdentityHeaders</c> (comma list of user,email,name,roles,assertion, or none; default all),
/// <c>Gateway.AssertionAudience</c> (default Gateway:Identity:AssertionAudience),
/// <c>Gateway.AuthenticatedCacheControl</c> (<c>no-store</c>, the default, or <c>private</c>).
/// </summary>
internal sealed record RouteIdentitySettings(bool User, bool Email, bool Name, bool Roles, bool Assertion, string? Audience, string AuthenticatedCacheControl)
{
    public const string ForwardAccessTokenKey = "Gateway.ForwardAccessToken";

    /// <summary>
    /// <c>Gateway.ForwardAccessToken: true</c>: the user's OIDC access token goes upstream as <c>Authorization: Bearer</c>,
    /// replacing any the client sent. Default false: the token never leaves the gateway.
    /// </summary>
    public bool ForwardAccessToken { get; init; }

    public static bool ForwardsAccessToken(IReadOnlyDictionary<string, string>? metadata) =>
        metadata is not null && metadata.TryGetValue(ForwardAccessTokenKey, out var value) && bool.TryParse(value, out var on) && on;
    public const string HeadersKey = "Gateway.IdentityHeaders";
    public const string AudienceKey = "Gateway.AssertionAudience";
    public const string CacheControlKey = "Gateway.AuthenticatedCacheControl";
    private static readonly string[] HeaderNames = ["user", "email", "name", "roles", "assertion"];

    public static RouteIdentitySettings Parse(RouteConfig route, List<string>? errors)
    {
        var metadata = route.Metadata ?? new Dictionary<string, string>();
        var selected = HeaderNames.ToHashSet(StringComparer.OrdinalIgnoreCase);
        if (metadata.TryGetValue(HeadersKey, out var list))
        {
            var parts = list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            selected = parts.Length == 1 && parts[0].Equals("none", StringComparison.OrdinalIgnoreCase) ? [] : parts.ToHashSet(StringComparer.OrdinalIgnoreCase);
            foreach (var unknown in selected.Where(p => !HeaderNames.Contains(p, StringComparer.OrdinalIgnoreCase)))
                errors?.Add($"Metadata '{HeadersKey}': unknown header '{unknown}' (use {string.Join(", ", HeaderNames)} or none).");
        }
        metadata.TryGetValue(AudienceKey, out var audience);
        if (audience is not null && string.IsNullOrWhiteSpace(audience)) errors?.Add($"Metadata '{AudienceKey}': must not be empty.");
        var cacheControl = metadata.TryGetValue(CacheControlKey, out var cc) ? cc.Trim().ToLowerInvariant() : "no-store";
        if (cacheControl is not ("no-store" or "private"))
            errors?.Add($"Metadata '{CacheControlKey}': '{cc}' must be 'no-store' or 'private'; shared caching of signed-in pages is never allowed.");
        if (metadata.TryGetValue(ForwardAccessTokenKey, out var forward) && !bool.TryParse(forward, out _))
            errors?.Add($"Metadata '{ForwardAccessTokenKey}': '{forward}' must be true or false.");
        return new RouteIdentitySettings(selected.Contains("user"), selected.Contains("email"), selected.Contains("name"),
            selected.Contains("roles"), selected.Contains("assertion"), audience, cacheControl)
        {
            ForwardAccessToken = ForwardsAccessToken(route.Metadata),
        };
    }
}
