using Gateway.LegacySignIn;
using Gateway.Admin;
using Gateway.Configuration;
using Gateway.Health;
using Gateway.Identity;
using Gateway.KeyRing;
using Gateway.Login;
using Gateway.Logout;
using Gateway.Observability;
using Gateway.Redis;
using Gateway.Routing;
using Gateway.Sessions;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Gateway.Hosting;

/// <summary>Registers the gateway's parts; each step is one small method.</summary>
internal static class GatewayServiceRegistration
{
    /// <param name="validateSettings">
    /// False for offline tools (<c>config check</c>): they validate a route file on machines where the
    /// rest of the settings would not start a gateway, such as an ops laptop without Redis.
    /// </param>
    public static WebApplicationBuilder AddGateway(this WebApplicationBuilder builder, bool validateSettings = true)
    {
        // Bound once, here; a value the binder cannot convert is reported by the start-up check with its key, defaults
        // meanwhile. The composition reads the whole; each capability registers and reads its own section.
        var check = StartupCheck.Bind(builder.Configuration);
        var settings = check.Settings;
        builder.AddGatewayLogging();
        var services = builder.Services;
        services.AddSingleton(check);
        services.AddGatewayOptions(validateSettings);
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<GatewayMetrics>();
        services.AddGatewayTelemetry(settings);
        services.AddGatewayStore(settings);
        services.AddGatewaySessions();
        services.AddGatewayAuth(settings);
        services.AddGatewayRouting();
        services.AddGatewayIdentity();
        services.AddGatewayLogin(settings);
        services.AddGatewayLogout();
        services.AddGatewayLegacySignIn(settings.LegacySignIn);
        services.AddGatewayAdmin();
        services.AddGatewayForwarding(settings.Forwarding);
        return builder;
    }

    private static void AddGatewayOptions(this IServiceCollection services, bool validate)
    {
        // The start-up check's binding is the one every IOptions reads: the section is not bound a second time.
        services.AddSingleton<IOptionsFactory<GatewayOptions>, GatewaySections.BoundOnce>();
        var options = services.AddOptions<GatewayOptions>();
        if (!validate) return;
        options.ValidateOnStart();
        services.AddSingleton<IValidateOptions<GatewayOptions>, GatewayOptionsValidator>();
    }

    private static void AddGatewayLogging(this WebApplicationBuilder builder)
    {
        // The OpenID Connect handler quotes the provider's responses (error descriptions, token endpoint bodies) in its
        // own messages; the gateway logs OidcLoginFailed with the failure type and error code instead.
        builder.Logging.AddFilter("Microsoft.AspNetCore.Authentication.OpenIdConnect", LogLevel.None);
        if (builder.Environment.IsDevelopment()) return;
        builder.Logging.ClearProviders();
        builder.Logging.AddConsole(o => o.FormatterName = GatewayJsonConsoleFormatter.Name)
            .AddConsoleFormatter<GatewayJsonConsoleFormatter, Microsoft.Extensions.Logging.Console.ConsoleFormatterOptions>();
    }

    private static void AddGatewayStore(this IServiceCollection services, GatewayOptions settings)
    {
        // A fixed application name: every replica (and every version) reads every other's cookies and records.
        var dataProtection = services.AddDataProtection().SetApplicationName("Gateway");
        if (settings.Redis.IsConfigured) services.AddGatewayRedisStore(settings.Redis, dataProtection);
        services.AddGatewayKeyRing(settings.KeyRing);
        // The embedded single-instance store; TryAdd keeps whatever a configured store registered.
        services.TryAddSingleton<ISessionStore, InMemorySessionStore>();
        services.TryAddSingleton<ISessionRevocationBus, InProcessRevocationBus>();
        services.TryAddSingleton<IStoreReadiness, InMemoryStoreReadiness>();
        services.TryAddSingleton<ISigningKeyStore, InMemorySigningKeyStore>();
        services.TryAddSingleton<ILegacySessionStore, NoLegacySessionStore>();
        services.TryAddSingleton<IReplayGuard, InMemoryReplayGuard>();
    }

    private static void AddGatewaySessions(this IServiceCollection services)
    {
        services.AddGatewaySection(o => o.Session);
        services.AddSingleton(sp => VerifiedCookieMemo.For(sp.GetRequiredService<IOptions<GatewaySessionOptions>>().Value));
        services.AddSingleton<SessionChangeLog>();
        services.AddSingleton<SessionCache>();
        services.AddSingleton<EndedHere>();
        services.AddSingleton<SessionTouches>();
        services.AddHostedService(sp => sp.GetRequiredService<SessionTouches>());
        services.AddSingleton<SessionRefreshes>();
        services.AddHostedService(sp => sp.GetRequiredService<SessionRefreshes>());
        services.AddSingleton<SessionRecordProtector>();
        services.AddSingleton<SessionManager>();
        services.AddSingleton<SessionCookies>();
        services.AddSingleton<SessionAuthenticator>();
        services.AddSingleton<Connections.LiveConnectionRegistry>();
        services.AddHostedService(sp => sp.GetRequiredService<Connections.LiveConnectionRegistry>());
    }

    private static void AddGatewayAuth(this IServiceCollection services, GatewayOptions settings)
    {
        // Resolved from DI per request instead of ActivatorUtilities reflection (the authentication provider checks DI first).
        services.AddTransient<GatewaySessionHandler>();
        var auth = services.AddAuthentication(GatewaySessionSchemeOptions.Scheme)
            .AddScheme<GatewaySessionSchemeOptions, GatewaySessionHandler>(GatewaySessionSchemeOptions.Scheme, o => o.LoginPath = settings.Paths.EffectiveLogin);
        if (settings.Login.OidcEnabled) auth.AddGatewayOidc();

        services.AddSingleton<RouteAuthorization>();
        services.AddSingleton<Microsoft.AspNetCore.Authorization.IAuthorizationHandler, Routing.RecentSignInHandler>();
        services.AddAuthorization(options =>
        {
            // No scheme named on the policies: UseAuthentication already ran the default (session) scheme, and a
            // policy that names schemes re-authenticates and merges a new principal on every request.
            var signedIn = new AuthorizationPolicyBuilder().RequireAuthenticatedUser().Build();
            options.DefaultPolicy = signedIn;
            // Fail closed: a route with no AuthorizationPolicy in proxy.json needs a signed-in user.
            options.FallbackPolicy = signedIn;
            foreach (var (name, policy) in settings.Policies)
            {
                options.AddPolicy(name, p =>
                {
                    p.RequireAuthenticatedUser();
                    if (policy.Roles.Length > 0) p.RequireRole(policy.Roles);
                    // Last: a session lacking a role is forbidden, not asked to sign in again for nothing.
                    if (policy.StepsUp) p.AddRequirements(new Routing.RecentSignInRequirement(policy.MaxAuthenticationAge, policy.AcrValues));
                });
            }
        });
    }

    private static void AddGatewayRouting(this IServiceCollection services)
    {
        services.AddSingleton<ProxyConfigStatus>();
        services.AddGatewayHealthChecks();
        services.AddSingleton<ProxyConfigValidator>();
        services.AddSingleton<GatewayEndpointPaths>();
        services.AddSingleton<IGatewayEndpointPaths>(sp => sp.GetRequiredService<GatewayEndpointPaths>());
        services.AddSingleton<FileProxyConfigProvider>();
        services.AddSingleton<Yarp.ReverseProxy.Configuration.IProxyConfigProvider>(sp => sp.GetRequiredService<FileProxyConfigProvider>());
        services.AddHostedService(sp => sp.GetRequiredService<FileProxyConfigProvider>());
        services.AddGatewaySection(o => o.WarmUp);
        services.AddGatewaySection(o => o.Session);
        services.AddSingleton<WarmUp.WarmUpState>();
        services.AddSingleton<WarmUp.WarmUpRoutes>();
        services.AddSingleton<WarmUp.WarmUpStoreReads>();
        services.AddSingleton<Yarp.ReverseProxy.Configuration.IProxyConfigProvider>(sp => sp.GetRequiredService<WarmUp.WarmUpRoutes>());
        services.AddHostedService<WarmUp.WarmUpService>();
        services.AddReverseProxy();
    }

    private static void AddGatewayIdentity(this IServiceCollection services)
    {
        services.AddGatewaySection(o => o.Identity);
        services.AddSingleton<IdentityHeaderRules>();
        services.AddSingleton<SigningKeyRing>();
        services.AddHostedService(sp => sp.GetRequiredService<SigningKeyRing>());
        services.AddSingleton<AssertionIssuer>();
        services.AddSingleton<Yarp.ReverseProxy.Transforms.Builder.ITransformProvider, IdentityTransformProvider>();
    }

    private static void AddGatewayLogin(this IServiceCollection services, GatewayOptions settings)
    {
        services.AddGatewaySection(o => o.Login);
        services.AddGatewaySection(o => o.Paths);
        services.AddSingleton<Security.FormTokens>();
        services.AddSingleton<OidcProvider>();
        services.AddSingleton<DevUserDirectory>();
        services.AddSingleton<LoginAttemptLimiter>();
        services.AddSingleton<DevLoginService>();
        services.AddSingleton<LoginService>();
        services.AddSingleton<StepUpChallenge>();
        services.AddSingleton<Tokens.TokenEndpointClient>();
        services.AddSingleton<Tokens.AccessTokenService>();
        if (settings.Login.OidcEnabled) services.AddSingleton<ISessionEndObserver, Tokens.RefreshTokenRevoker>();
    }

    private static void AddGatewayLogout(this IServiceCollection services)
    {
        services.AddGatewaySection(o => o.Logout);
        services.AddSingleton<LegacySessionCookies>();
        services.AddSingleton<LogoutService>();
        services.AddSingleton<BackchannelLogoutService>();
    }

    private static void AddGatewayAdmin(this IServiceCollection services)
    {
        services.AddGatewaySection(o => o.Admin);
        services.AddSingleton<AdminKey>();
        services.AddSingleton<SessionAdminEndpoint>();
        services.AddSingleton<MySessions.MySessionsEndpoint>();
    }

    private static void AddGatewayForwarding(this IServiceCollection services, ForwardingOptions forwarding)
    {
        services.AddGatewaySection(o => o.Forwarding);
        services.Configure<ForwardedHeadersOptions>(o =>
        {
            o.ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto | ForwardedHeaders.XForwardedHost;
            // Only the configured proxies: ASP.NET Core's defaults would trust loopback.
            o.KnownProxies.Clear();
            o.KnownIPNetworks.Clear();
            foreach (var proxy in forwarding.KnownProxies)
                if (System.Net.IPAddress.TryParse(proxy, out var address)) o.KnownProxies.Add(address);
            foreach (var network in forwarding.KnownNetworks)
                if (System.Net.IPNetwork.TryParse(network, out var parsed)) o.KnownIPNetworks.Add(parsed);
        });
    }
}
