using System.Security.Claims;
using Gateway.Hosting;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;
using Microsoft.AspNetCore.Http;

namespace Gateway.Tests.Hosting;

/// <summary>
/// The proxy-route fast path decides exactly what ASP.NET Core's authorization middleware decides, for every kind
/// of rule proxy.json can give a route and every kind of caller; rules it cannot apply are left to the framework.
/// </summary>
public sealed class RouteAuthorizationTests
{
    private static readonly Endpoint Anonymous = Route(new AllowAnonymousAttribute());
    private static readonly Endpoint SignedIn = Route(new AuthorizeAttribute());
    private static readonly Endpoint Admins = Route(new AuthorizeAttribute("admins"));
    private static readonly Endpoint NoPolicy = Route();
    private static readonly Endpoint ClaimPolicy = Route(new AuthorizeAttribute("has-tenant"));

    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (var route in new[] { "anonymous", "signed-in", "admins", "no-policy" })
            foreach (var user in new[] { "nobody", "editor", "admin", "unauthenticated-identity-with-admin-role", "anonymous-first-then-signed-in-admin", "no-identity-at-all" })
                data.Add(route, user);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task The_fast_path_decides_as_the_framework_does(string route, string user)
    {
        using var services = Services();
        var endpoint = route switch { "anonymous" => Anonymous, "signed-in" => SignedIn, "admins" => Admins, _ => NoPolicy };
        var principal = User(user);

        var rule = await services.GetRequiredService<RouteAuthorization>().ForAsync(endpoint);
        Assert.NotEqual(RouteAuthorization.Kind.Framework, rule.Kind);
        var ours = rule.Kind == RouteAuthorization.Kind.Open ? "allowed"
            : RouteAuthorization.Decide(rule.Policy!, principal, null, TimeProvider.System, out _) switch
            {
                RouteAuthorization.Verdict.Allowed => "allowed",
                RouteAuthorization.Verdict.Forbid => "forbidden",
                _ => "challenged",
            };

        Assert.Equal(await FrameworkDecisionAsync(services, endpoint, principal), ours);
    }

    [Fact]
    public async Task A_rule_with_another_kind_of_requirement_is_left_to_the_framework()
    {
        using var services = Services();
        var rule = await services.GetRequiredService<RouteAuthorization>().ForAsync(ClaimPolicy);
        Assert.Equal(RouteAuthorization.Kind.Framework, rule.Kind);
    }

    [Fact]
    public async Task A_custom_authorization_handler_sends_every_rule_to_the_framework()
    {
        using var services = Services(s => s.AddSingleton<IAuthorizationHandler, AlwaysDenies>());
        Assert.Equal(RouteAuthorization.Kind.Framework, (await services.GetRequiredService<RouteAuthorization>().ForAsync(SignedIn)).Kind);
    }

    [Fact]
    public async Task A_claims_transformation_or_another_result_handler_sends_every_rule_to_the_framework()
    {
        using (var services = Services(s => s.AddTransient<Microsoft.AspNetCore.Authentication.IClaimsTransformation, AddsAdminRole>()))
            Assert.Equal(RouteAuthorization.Kind.Framework, (await services.GetRequiredService<RouteAuthorization>().ForAsync(Admins)).Kind);
        using (var services = Services(s => s.AddSingleton<Microsoft.AspNetCore.Authorization.IAuthorizationMiddlewareResultHandler, PassesEverything>()))
            Assert.Equal(RouteAuthorization.Kind.Framework, (await services.GetRequiredService<RouteAuthorization>().ForAsync(SignedIn)).Kind);
    }

    [Fact]
    public async Task A_subclass_of_a_built_in_requirement_is_left_to_the_framework()
    {
        using var services = Services(s => s.Configure<AuthorizationOptions>(o => o.AddPolicy("custom-roles", p => p.AddRequirements(new LenientRoles()))));
        Assert.Equal(RouteAuthorization.Kind.Framework, (await services.GetRequiredService<RouteAuthorization>().ForAsync(Route(new AuthorizeAttribute("custom-roles")))).Kind);
    }

    [Fact]
    public async Task The_rule_is_worked_out_once_per_endpoint()
    {
        using var services = Services();
        var authorization = services.GetRequiredService<RouteAuthorization>();
        Assert.Same(await authorization.ForAsync(Admins), await authorization.ForAsync(Admins));
    }

    private static async Task<string> FrameworkDecisionAsync(ServiceProvider services, Endpoint endpoint, ClaimsPrincipal user)
    {
        if (endpoint.Metadata.GetMetadata<IAllowAnonymous>() is not null) return "allowed";
        var policy = await AuthorizationPolicy.CombineAsync(services.GetRequiredService<IAuthorizationPolicyProvider>(),
            endpoint.Metadata.GetOrderedMetadata<IAuthorizeData>(), endpoint.Metadata.GetOrderedMetadata<AuthorizationPolicy>());
        if (policy is null) return "allowed";
        var context = new DefaultHttpContext { User = user, RequestServices = services };
        var evaluator = services.GetRequiredService<IPolicyEvaluator>();
        var result = await evaluator.AuthorizeAsync(policy, await evaluator.AuthenticateAsync(policy, context), context, context);
        return result.Succeeded ? "allowed" : result.Forbidden ? "forbidden" : "challenged";
    }

    private static ServiceProvider Services(Action<IServiceCollection>? extra = null)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddAuthentication();
        services.AddAuthorization(options =>
        {
            var signedIn = new AuthorizationPolicyBuilder().RequireAuthenticatedUser().Build();
            options.DefaultPolicy = signedIn;
            options.FallbackPolicy = signedIn;
            options.AddPolicy("admins", p => p.RequireAuthenticatedUser().RequireRole("admin"));
            options.AddPolicy("has-tenant", p => p.RequireClaim("tenant"));
        });
        services.AddSingleton<RouteAuthorization>();
        extra?.Invoke(services);
        return services.BuildServiceProvider();
    }

    private static Endpoint Route(params object[] metadata) => new(_ => Task.CompletedTask, new EndpointMetadataCollection(metadata), "route");

    private static ClaimsPrincipal User(string kind) => kind switch
    {
        "nobody" => new ClaimsPrincipal(new ClaimsIdentity()),
        "editor" => new ClaimsPrincipal(new ClaimsIdentity([new Claim(ClaimTypes.Role, "editor")], "GatewaySession")),
        "admin" => new ClaimsPrincipal(new ClaimsIdentity([new Claim(ClaimTypes.Role, "admin")], "GatewaySession")),
        // The primary identity is not the authenticated one: the framework looks at every identity, and so must we.
        "no-identity-at-all" => new ClaimsPrincipal(),
        "anonymous-first-then-signed-in-admin" => new ClaimsPrincipal([new ClaimsIdentity(), new ClaimsIdentity([new Claim(ClaimTypes.Role, "admin")], "Other")]),
        _ => new ClaimsPrincipal(new ClaimsIdentity([new Claim(ClaimTypes.Role, "admin")])),
    };

    private sealed class AddsAdminRole : Microsoft.AspNetCore.Authentication.IClaimsTransformation
    {
        public Task<ClaimsPrincipal> TransformAsync(ClaimsPrincipal principal) => Task.FromResult(principal);
    }

    private sealed class PassesEverything : Microsoft.AspNetCore.Authorization.IAuthorizationMiddlewareResultHandler
    {
        public Task HandleAsync(RequestDelegate next, HttpContext context, AuthorizationPolicy policy, PolicyAuthorizationResult authorizeResult) => next(context);
    }

    private sealed class LenientRoles() : Microsoft.AspNetCore.Authorization.Infrastructure.RolesAuthorizationRequirement(["admin"]);

    private sealed class AlwaysDenies : IAuthorizationHandler
    {
        public Task HandleAsync(AuthorizationHandlerContext context) => Task.CompletedTask;
    }
}
