using Gateway.LegacySignIn;
using Gateway.Admin;
using Gateway.Configuration;
using Gateway.Health;
using Gateway.Identity;
using Gateway.Login;
using Gateway.Logout;
using Gateway.Routing;
using Gateway.Security;
using Gateway.Sessions;
using Microsoft.Extensions.Options;

namespace Gateway.Hosting;

/// <summary>The request pipeline and the gateway's own endpoints, one mapping line each.</summary>
internal static class GatewayPipeline
{
    /// <summary>Validates settings and the route file, builds the pipeline and runs. Exit code 2 on a start-up problem.</summary>
    public static async Task<int> RunGatewayAsync(this WebApplication app)
    {
        try
        {
            await app.PrepareGatewayAsync();
        }
        catch (GatewayStartupException ex)
        {
            await Console.Error.WriteLineAsync($"Gateway cannot start:{Environment.NewLine}{ex.Message}");
            return 2;
        }
        await app.RunAsync();
        return 0;
    }

    public static async Task PrepareGatewayAsync(this WebApplication app)
    {
        await app.CheckStartupAsync();
        var options = app.Services.GetRequiredService<IOptions<GatewayOptions>>().Value;
        // Ahead of the developer exception page Development adds: an error answer never shows the request (its cookies).
        app.UseExceptionHandler(new ExceptionHandlerOptions { ExceptionHandler = GatewayResponses.UnexpectedErrorAsync });
        // No client-address rewrite of its own: YARP 2.3 forwards an IPv4 client on a dual-stack socket as plain IPv4
        // (X-Forwarded-For), ASP.NET Core's forwarded-headers middleware matches KnownProxies in both forms, and the
        // gateway's own readers (login limiter, device description, warm-up sink) map the address themselves.
        // With empty KnownProxies and KnownIPNetworks, ASP.NET Core's middleware skips the address check
        // and believes every client's X-Forwarded-*: add it only when ops name the proxies to trust.
        if (options.Forwarding.KnownProxies.Length + options.Forwarding.KnownNetworks.Length > 0) app.UseForwardedHeaders();
        app.UseMiddleware<IncomingIdentityHeaderStripper>();
        app.UseRouting();
        // Before anything that could read a body (the OIDC handler inside UseGatewayAccess among them).
        app.UseMiddleware<Security.RequestBodyGuard>();
        app.UseGatewayAccess();
        app.UseGatewayLegacySignIn(options.LegacySignIn);
        // A refresh the provider refuses ends the session and answers 401 here, before the request is tracked: tracking
        // first would have the revocation abort the very request that must carry the 401.
        app.UseMiddleware<Tokens.AccessTokenForwarding>();
        app.UseMiddleware<Connections.LiveConnectionTracker>();

        // Gateway endpoints come before every proxy.json route, whatever its Order: no route can shadow them.
        var paths = app.Services.GetRequiredService<GatewayEndpointPaths>();
        var gateway = app.MapGroup("").WithOrder(GatewayEndpointOrder.Endpoints).WithBodyLimit(RequestBodyLimit.Form);
        gateway.MapGatewayHealth(paths.Health, paths.Ready);
        gateway.MapJwks(paths.Jwks);
        gateway.MapGet(paths.Login, (HttpContext c, LoginService s) => s.StartAsync(c)).AllowAnonymous();
        gateway.MapPost(paths.Login, (HttpContext c, DevLoginService s) => s.SubmitAsync(c)).AllowAnonymous().DisableAntiforgery();
        foreach (var path in paths.Logout)
            gateway.Map(path, (HttpContext c, LogoutService s) => s.HandleAsync(c)).AllowAnonymous().DisableAntiforgery();
        gateway.MapPost(paths.BackchannelLogout, (HttpContext c, BackchannelLogoutService s) => s.HandleAsync(c)).AllowAnonymous().DisableAntiforgery()
            .WithBodyLimit(RequestBodyLimit.BackchannelLogout);
        gateway.MapGet(paths.Admin, (HttpContext c, SessionAdminEndpoint s) => s.ListAsync(c)).AllowAnonymous();
        gateway.MapPost(paths.AdminRevoke, (HttpContext c, SessionAdminEndpoint s) => s.RevokeAsync(c)).AllowAnonymous().DisableAntiforgery();
        gateway.MapGet(paths.MySessions, (HttpContext c, MySessions.MySessionsEndpoint s) => s.ShowAsync(c)).AllowAnonymous();
        gateway.MapPost(paths.MySessionsRevoke, (HttpContext c, MySessions.MySessionsEndpoint s) => s.RevokeAsync(c)).AllowAnonymous().DisableAntiforgery();
        var warmUp = app.Services.GetRequiredService<WarmUp.WarmUpState>();
        gateway.MapGet(warmUp.SinkPath + "/{**rest}", WarmUp.WarmUpRoutes.Sink).AllowAnonymous().DisableHttpMetrics();
        // Any other method on a gateway path is answered here (405), never proxied to the CMS behind.
        var reserved = app.MapGroup("").WithOrder(GatewayEndpointOrder.OtherMethods).WithBodyLimit(RequestBodyLimit.Form);
        foreach (var path in paths.Paths.Distinct(StringComparer.OrdinalIgnoreCase))
            reserved.Map(path, MethodNotAllowed).AllowAnonymous().DisableAntiforgery();
        app.MapReverseProxy().ConfigureEndpoints((endpoint, route) =>
        {
            // A new random path at every start would be a new metric series every time.
            if (WarmUp.WarmUpRoutes.IsWarmUpRoute(route)) endpoint.DisableHttpMetrics();
        });
    }

    private static IResult MethodNotAllowed(HttpContext context)
    {
        context.Response.Headers.CacheControl = "no-store";
        return Results.StatusCode(StatusCodes.Status405MethodNotAllowed);
    }

    /// <summary>Every settings problem and every route-file problem, reported together.</summary>
    private static async Task CheckStartupAsync(this WebApplication app)
    {
        var check = app.Services.GetRequiredService<StartupCheck>();
        var errors = check.Problems(app.Environment.IsDevelopment());
        if (errors.Count > 0)
        {
            var path = Path.GetFullPath(check.Settings.ProxyConfigPath ?? "proxy.json", app.Environment.ContentRootPath);
            var (snapshot, _) = await ProxyConfigFileReader.ReadAsync(path, app.Configuration, CancellationToken.None);
            errors.AddRange(snapshot.Errors);
            throw new GatewayStartupException(StartupCheck.Format(errors));
        }
        await app.Services.GetRequiredService<FileProxyConfigProvider>().LoadInitialAsync(CancellationToken.None);
    }
}
