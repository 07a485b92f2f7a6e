using Gateway.Sessions;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.OpenIdConnect;
using Microsoft.Extensions.Options;

namespace Gateway.Hosting;

/// <summary>
/// Who a request is and whether it may pass, for requests bound for a proxy.json route, in one step: the session
/// from <see cref="SessionAuthenticator"/> (the same code the authentication handler runs), the route's rule from
/// <see cref="RouteAuthorization"/>, and a refusal through the same challenge and forbid responses. It makes the
/// decisions UseAuthentication + UseAuthorization would, without their per-request handler instance, results and
/// authorization context (about a tenth of a signed-in request's CPU, bench/). Everything else (the gateway's own
/// endpoints, the OIDC handler's paths, unmatched paths, a rule it cannot apply) goes through those middlewares,
/// behind <see cref="StoreUnavailableGuard"/>; a proxied request gets the same guard inline.
/// </summary>
internal sealed class ProxyRouteAccess(
    RequestDelegate next,
    RequestDelegate framework,
    SessionAuthenticator authenticator,
    RouteAuthorization authorization,
    IOptionsMonitor<OpenIdConnectOptions> oidc,
    Login.OidcProvider provider,
    Login.StepUpChallenge stepUps,
    TimeProvider time)
{
    private const string AuthorizationRanKey = "__AuthorizationMiddlewareWithEndpointInvoked";
    private static readonly object True = true;

    // The OIDC handler answers these paths itself from inside UseAuthentication, whatever route they match.
    private readonly PathString[] _handlerPaths = provider.Enabled ? HandlerPaths(oidc.Get(Login.OidcRegistration.Scheme)) : [];

    private static PathString[] HandlerPaths(OpenIdConnectOptions o) => [o.CallbackPath, o.SignedOutCallbackPath, o.RemoteSignOutPath];

    public Task InvokeAsync(HttpContext context)
    {
        var endpoint = context.GetEndpoint();
        if (endpoint?.Metadata.GetMetadata<Yarp.ReverseProxy.Model.RouteModel>() is null || IsHandlerPath(context.Request.Path))
            return framework(context);
        var rule = authorization.ForAsync(endpoint);
        return rule.IsCompletedSuccessfully ? DecideAsync(context, rule.Result) : AwaitRuleAsync(context, rule);
    }

    private async Task AwaitRuleAsync(HttpContext context, ValueTask<RouteAuthorization.Rule> rule) => await DecideAsync(context, await rule);

    private async Task DecideAsync(HttpContext context, RouteAuthorization.Rule rule)
    {
        if (rule.Kind == RouteAuthorization.Kind.Framework)
        {
            await framework(context);
            return;
        }
        var session = await authenticator.AuthenticateAsync(context);
        if (session is not null) context.User = session.Principal;
        try
        {
            if (rule.Kind == RouteAuthorization.Kind.Policy)
            {
                // As the framework's PolicyEvaluator: signed in but not allowed is forbidden, anyone else is challenged;
                // signed in with the roles but not recently (or strongly) enough is asked to sign in again.
                switch (RouteAuthorization.Decide(rule.Policy!, context.User, session?.Record, time, out var stepUp))
                {
                    case RouteAuthorization.Verdict.Challenge: await context.ChallengeAsync(); return;
                    case RouteAuthorization.Verdict.Forbid: await context.ForbidAsync(); return;
                    case RouteAuthorization.Verdict.StepUp: await stepUps.AskAsync(context, stepUp!); return;
                }
            }
            // What the framework's authorization middleware leaves for the endpoint middleware, which otherwise refuses to
            // run an endpoint with authorization metadata.
            context.Items[AuthorizationRanKey] = True;
            await next(context);
        }
        catch (StoreUnavailableException) when (!context.Response.HasStarted)
        {
            // StoreUnavailableGuard's rule, here so a proxied request does not pay for one more awaiting frame.
            context.Response.Clear();
            await GatewayResponses.StoreUnavailableAsync(context);
        }
    }

    private bool IsHandlerPath(PathString path)
    {
        foreach (var handlerPath in _handlerPaths)
            if (path.Equals(handlerPath, StringComparison.OrdinalIgnoreCase)) return true;
        return false;
    }
}

internal static class ProxyRouteAccessExtensions
{
    /// <summary>Authentication and authorization: <see cref="ProxyRouteAccess"/> for proxy routes, the framework's middlewares for the rest.</summary>
    // WebApplication adds both middlewares at the very front of the pipeline (before routing, so every route would get
    // the fallback policy) unless these are set; UseAuthentication/UseAuthorization set them, but here they run on a branch.
    private const string AuthenticationSetKey = "__AuthenticationMiddlewareSet";
    private const string AuthorizationSetKey = "__AuthorizationMiddlewareSet";

    public static IApplicationBuilder UseGatewayAccess(this IApplicationBuilder app)
    {
        app.Properties[AuthenticationSetKey] = true;
        app.Properties[AuthorizationSetKey] = true;
        var standard = app.New();
        standard.UseMiddleware<StoreUnavailableGuard>();
        standard.UseAuthentication();
        standard.UseAuthorization();
        return app.Use(next =>
        {
            standard.Run(next);
            var access = ActivatorUtilities.CreateInstance<ProxyRouteAccess>(app.ApplicationServices, next, standard.Build());
            return access.InvokeAsync;
        });
    }
}
