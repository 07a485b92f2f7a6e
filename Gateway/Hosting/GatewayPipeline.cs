using Gateway.Admin;
using Gateway.Configuration;
using Gateway.Health;
using Gateway.Identity;
using Gateway.Login;
using Gateway.Logout;
using Gateway.Routing;
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
        app.UseMiddleware<ClientAddressNormalizer>();
        // With empty KnownProxies and KnownIPNetworks, ASP.NET Core's middleware skips the address check
        // and believes every client's X-Forwarded-*: add it only when ops name the proxies to trust.
        if (options.Forwarding.KnownProxies.Length + options.Forwarding.KnownNetworks.Length > 0) app.UseForwardedHeaders();
        app.UseMiddleware<IncomingIdentityHeaderStripper>();
        app.UseMiddleware<StoreUnavailableGuard>();
        app.UseRouting();
        app.UseAuthentication();
        app.UseAuthorization();

        app.MapGatewayHealth();
        app.MapJwks();
        app.MapGet("/login", (HttpContext c, LoginService s) => s.StartAsync(c)).AllowAnonymous();
        app.MapPost("/login", (HttpContext c, DevLoginService s) => s.SubmitAsync(c)).AllowAnonymous().DisableAntiforgery();
        foreach (var path in options.Logout.EffectivePaths)
            app.MapMethods(path, [HttpMethods.Get, HttpMethods.Post], (HttpContext c, LogoutService s) => s.HandleAsync(c)).AllowAnonymous().DisableAntiforgery();
        app.MapPost(BackchannelLogoutService.Path, (HttpContext c, BackchannelLogoutService s) => s.HandleAsync(c)).AllowAnonymous().DisableAntiforgery();
        app.MapGet(SessionAdminEndpoint.Path, (HttpContext c, SessionAdminEndpoint s) => s.ListAsync(c)).AllowAnonymous();
        app.MapPost(SessionAdminEndpoint.Path + "/revoke", (HttpContext c, SessionAdminEndpoint s) => s.RevokeAsync(c)).AllowAnonymous().DisableAntiforgery();
        app.MapReverseProxy();
    }

    /// <summary>Every settings problem and every route-file problem, reported together.</summary>
    private static async Task CheckStartupAsync(this WebApplication app)
    {
        var settings = GatewayOptions.Read(app.Configuration);
        var errors = GatewayOptionsValidator.Collect(settings, app.Environment.IsDevelopment());
        if (errors.Count > 0)
        {
            var path = Path.GetFullPath(settings.ProxyConfigPath ?? "proxy.json", app.Environment.ContentRootPath);
            var (snapshot, _) = await ProxyConfigFileReader.ReadAsync(path, app.Configuration, CancellationToken.None);
            errors.AddRange(snapshot.Errors);
            throw new GatewayStartupException("  - " + string.Join(Environment.NewLine + "  - ", errors));
        }
        await app.Services.GetRequiredService<FileProxyConfigProvider>().LoadInitialAsync(CancellationToken.None);
    }
}
