using System.Runtime.CompilerServices;
using System.Security.Claims;
using Microsoft.AspNetCore.Authorization;
using Gateway.Sessions;
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

    /// <summary>Open: anyone; Policy: <see cref="Decide"/> decides; Framework: UseAuthentication + UseAuthorization decide.</summary>
    public sealed record Rule(Kind Kind, AuthorizationPolicy? Policy);

    private static readonly Rule OpenRule = new(Kind.Open, null);
    private static readonly Rule FrameworkRule = new(Kind.Framework, null);

    // Endpoints are rebuilt when proxy.json reloads; the table lets the old ones and their rules be collected.
    private readonly ConditionalWeakTable<Endpoint, Rule> _rules = new();
    // The fast path makes the framework's decisions only while every part that could change them is the framework's own.
    private readonly bool _frameworkDefaults = handlers.All(h => h.GetType() == typeof(PassThroughAuthorizationHandler) || h.GetType() == typeof(Routing.RecentSignInHandler))
        && services.GetService<IAuthorizationMiddlewareResultHandler>()?.GetType() == typeof(Microsoft.AspNetCore.Authorization.Policy.AuthorizationMiddlewareResultHandler)
        && services.GetService<Microsoft.AspNetCore.Authorization.Policy.IPolicyEvaluator>()?.GetType() == typeof(Microsoft.AspNetCore.Authorization.Policy.PolicyEvaluator)
        && services.GetService<IAuthorizationService>()?.GetType().Assembly == typeof(DefaultAuthorizationService).Assembly
        && services.GetService<Microsoft.AspNetCore.Authentication.IClaimsTransformation>()?.GetType() == typeof(Microsoft.AspNetCore.Authentication.NoopClaimsTransformation);

    public ValueTask<Rule> ForAsync(Endpoint endpoint) =>
        _rules.TryGetValue(endpoint, out var rule) ? ValueTask.FromResult(rule) : BuildAsync(endpoint);

    public enum Verdict { Allowed, Challenge, Forbid, StepUp }

    /// <summary>
    /// The built-in handlers' own tests, in the policy's order (any authenticated identity; any one of the roles), then
    /// the step-up test: a session that has the roles but not a recent enough sign-in is asked for one
    /// (<paramref name="stepUp"/>), which is neither a challenge (it is signed in) nor a refusal (a sign-in will do).
    /// </summary>
    public static Verdict Decide(AuthorizationPolicy policy, ClaimsPrincipal user, CachedRecord? record, TimeProvider time, out Routing.RecentSignInRequirement? stepUp)
    {
        stepUp = null;
        foreach (var requirement in policy.Requirements)
        {
            // Exact types: a subclass may override what the requirement checks.
            if (requirement.GetType() == typeof(DenyAnonymousAuthorizationRequirement))
            {
                if (!IsAuthenticated(user)) return Verdict.Challenge;
            }
            else if (requirement.GetType() == typeof(RolesAuthorizationRequirement))
            {
                if (!InAnyRole(user, ((RolesAuthorizationRequirement)requirement).AllowedRoles)) return IsAuthenticated(user) ? Verdict.Forbid : Verdict.Challenge;
            }
            else if (requirement is Routing.RecentSignInRequirement recent)
            {
                if (!recent.IsMetBy(record, time.GetUtcNow())) stepUp ??= recent;
            }
            else
            {
                return IsAuthenticated(user) ? Verdict.Forbid : Verdict.Challenge;
            }
        }
        if (stepUp is null) return Verdict.Allowed;
        return IsAuthenticated(user) ? Verdict.StepUp : Verdict.Challenge;
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
            && policy.Requirements.All(r => r.GetType() == typeof(DenyAnonymousAuthorizationRequirement) || r.GetType() == typeof(RolesAuthorizationRequirement)
                || r.GetType() == typeof(Routing.RecentSignInRequirement));
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
