namespace Gateway.Routing;

/// <summary>
/// <c>Gateway:Policies:&lt;name&gt;</c>: a signed-in user holding any one of <see cref="Roles"/> (when listed), who
/// signed in interactively within <see cref="MaxAuthenticationAge"/> (when set) with one of <see cref="AcrValues"/>
/// (when listed). A session that meets the roles but not the age or acr is asked to sign in again (step-up), not ended.
/// </summary>
public sealed class RoutePolicyOptions
{
    public string[] Roles { get; set; } = [];

    /// <summary>How long ago the last interactive sign-in may be, with no clock-skew allowance; 0 asks for a sign-in for each visit
    /// (prompt=login to the provider), which then counts for 10 seconds: the way back to the page and what it loads.</summary>
    public TimeSpan? MaxAuthenticationAge { get; set; }

    /// <summary>Authentication context classes the sign-in must have had (the id_token's <c>acr</c>); OIDC only.</summary>
    public string[] AcrValues { get; set; } = [];

    internal bool StepsUp => MaxAuthenticationAge is not null || AcrValues.Length > 0;

    internal void Validate(string name, Action<string, string> add, bool oidcEnabled)
    {
        if (Roles.Length == 0 && !StepsUp)
            add($"Policies:{name}", "must list Roles, or set MaxAuthenticationAge or AcrValues.");
        if (Roles.Any(string.IsNullOrWhiteSpace))
            add($"Policies:{name}:Roles", "must not list an empty role.");
        if (MaxAuthenticationAge is { } age && age < TimeSpan.Zero)
            add($"Policies:{name}:MaxAuthenticationAge", "must not be negative.");
        if (AcrValues.Any(string.IsNullOrWhiteSpace))
            add($"Policies:{name}:AcrValues", "must not list an empty value.");
        if (AcrValues.Length > 0 && !oidcEnabled)
            add($"Policies:{name}:AcrValues", "needs OpenID Connect sign-in (Gateway:Login:Oidc): the dev-user form has no authentication context class.");
    }
}
