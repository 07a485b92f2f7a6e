using System.Runtime.CompilerServices;
using System.Security.Claims;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Infrastructure;

namespace Gateway.Hosting;

/// <summary>
/// The access rule of one proxy route, worked out once per endpoint exactly as ASP.NET Core's authorization
/// middleware combines it (the route's <c>AuthorizationPolicy</c> from proxy.json, <c>[AllowAnonymous]</c> for
/// "anonymous", the fallback policy when the route names none), then applied per request without allocating.
/// A rule this class cannot apply itself (a requirement other than "signed in" and "holds one of these roles", a
/// policy naming its own schemes, a custom authorization handler) is left to the framework's middleware.
/// </summary>
internal sealed class RouteAuthorization(IAuthorizationPolicyProvider policies, IEnumerable<IAuthorizationHandler> handlers, IServiceProvider services)
{
    public enum Kind { Open, Policy, Framework }

    /// <summary>Open: anyone; Policy: <see cref="Allows"/> decides; Framework: UseAuthentication + UseAuthorization decide.</summary>
    public sealed record Rule(Kind Kind, AuthorizationPolicy? Policy);

    private static readonly Rule OpenRule = new(Kind.Open, null);
    private static readonly Rule FrameworkRule = new(Kind.Framework, null);

    // Endpoints are rebuilt when proxy.json reloads; the table lets the old ones and their rules be collected.
    private readonly ConditionalWeakTable<Endpoint, Rule> _rules = new();
    // The fast path makes the framework's decisions only while every part that could change them is the framework's own.
    private readonly bool _frameworkDefaults = handlers.All(h => h.GetType() == typeof(PassThroughAuthorizationHandler))
        && services.GetService<IAuthorizationMiddlewareResultHandler>()?.GetType() == typeof(Microsoft.AspNetCore.Authorization.Policy.AuthorizationMiddlewareResultHandler)
        && services.GetService<Microsoft.AspNetCore.Authorization.Policy.IPolicyEvaluator>()?.GetType() == typeof(Microsoft.AspNetCore.Authorization.Policy.PolicyEvaluator)
        && services.GetService<IAuthorizationService>()?.GetType().Assembly == typeof(DefaultAuthorizationService).Assembly
        && services.GetService<Microsoft.AspNetCore.Authentication.IClaimsTransformation>()?.GetType() == typeof(Microsoft.AspNetCore.Authentication.NoopClaimsTransformation);

    public ValueTask<Rule> ForAsync(Endpoint endpoint) =>
        _rules.TryGetValue(endpoint, out var rule) ? ValueTask.FromResult(rule) : BuildAsync(endpoint);

    /// <summary>The built-in handlers' own tests, in the policy's order: any authenticated identity; any one of the roles.</summary>
    public static bool Allows(AuthorizationPolicy policy, ClaimsPrincipal user)
    {
        foreach (var requirement in policy.Requirements)
        {
            // Exact types: a subclass may override what the requirement checks.
            var met = requirement.GetType() == typeof(DenyAnonymousAuthorizationRequirement) ? IsAuthenticated(user)
                : requirement.GetType() == typeof(RolesAuthorizationRequirement) ? InAnyRole(user, ((RolesAuthorizationRequirement)requirement).AllowedRoles)
                : false;
            if (!met) return false;
        }
        return true;
    }

    private async ValueTask<Rule> BuildAsync(Endpoint endpoint)
    {
        var rule = await CombineAsync(endpoint);
        _rules.AddOrUpdate(endpoint, rule);
        return rule;
    }

    private async Task<Rule> CombineAsync(Endpoint endpoint)
    {
        var metadata = endpoint.Metadata;
        if (metadata.GetMetadata<IAllowAnonymous>() is not null) return OpenRule;
        if (!_frameworkDefaults || !policies.AllowsCachingPolicies || metadata.GetOrderedMetadata<IAuthorizationRequirementData>().Count > 0) return FrameworkRule;
        // Applies the fallback policy itself when the route names none.
        var policy = await AuthorizationPolicy.CombineAsync(policies, metadata.GetOrderedMetadata<IAuthorizeData>(), metadata.GetOrderedMetadata<AuthorizationPolicy>());
        if (policy is null) return OpenRule;
        var simple = policy.AuthenticationSchemes.Count == 0
            && policy.Requirements.All(r => r.GetType() == typeof(DenyAnonymousAuthorizationRequirement) || r.GetType() == typeof(RolesAuthorizationRequirement));
        return simple ? new Rule(Kind.Policy, policy) : FrameworkRule;
    }

    private static bool IsAuthenticated(ClaimsPrincipal user)
    {
        // DenyAnonymousAuthorizationRequirement's own test: a principal without a primary identity is anonymous whatever
        // its identities say (a custom ClaimsPrincipal.PrimaryIdentitySelector can return null), else any one authenticated.
        if (user.Identity is null) return false;
        foreach (var identity in user.Identities)
            if (identity.IsAuthenticated) return true;
        return false;
    }

    private static bool InAnyRole(ClaimsPrincipal user, IEnumerable<string> roles)
    {
        foreach (var role in roles)
            if (user.IsInRole(role)) return true;
        return false;
    }
}
