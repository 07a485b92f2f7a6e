using Gateway.Admin;
using Gateway.Configuration;
using Gateway.Health;
using Gateway.Identity;
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
        // A value the binder cannot convert is reported by the start-up check with its key; register with defaults meanwhile.
        GatewayOptions settings;
        try { settings = GatewayOptions.Read(builder.Configuration); }
        catch (GatewayStartupException) { settings = new GatewayOptions(); }
        builder.AddGatewayLogging();
        var services = builder.Services;
        services.AddGatewayOptions(builder.Configuration, validateSettings);
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<GatewayMetrics>();
        services.AddGatewayTelemetry(settings);
        services.AddGatewayStore(settings);
        services.AddGatewaySessions();
        services.AddGatewayAuth(settings);
        services.AddGatewayRouting();
        services.AddGatewayIdentity();
        services.AddGatewayLogin();
        services.AddGatewayLogout();
        services.AddGatewayAdmin();
        services.AddGatewayForwarding(settings.Forwarding);
        return builder;
    }

    private static void AddGatewayOptions(this IServiceCollection services, ConfigurationManager configuration, bool validate)
    {
        var options = services.AddOptions<GatewayOptions>().Bind(configuration.GetSection(GatewayOptions.SectionName));
        if (!validate) return;
        options.ValidateOnStart();
        services.AddSingleton<IValidateOptions<GatewayOptions>, GatewayOptionsValidator>();
    }

    private static void AddGatewayLogging(this WebApplicationBuilder builder)
    {
        if (builder.Environment.IsDevelopment()) return;
        builder.Logging.ClearProviders();
        builder.Logging.AddConsole(o => o.FormatterName = GatewayJsonConsoleFormatter.Name)
            .AddConsoleFormatter<GatewayJsonConsoleFormatter, Microsoft.Extensions.Logging.Console.ConsoleFormatterOptions>();
    }

    private static void AddGatewayStore(this IServiceCollection services, GatewayOptions settings)
    {
        // A fixed application name: every replica (and every version) reads every other's cookies and records.
        services.AddDataProtection().SetApplicationName("Gateway");
        if (settings.Redis.IsConfigured)
        {
            services.AddSingleton<RedisConnection>();
            services.AddSingleton<RedisCalls>();
            services.AddSingleton<ISessionStore, RedisSessionStore>();
            services.AddSingleton<RedisRevocationBus>();
            services.AddSingleton<ISessionRevocationBus>(sp => sp.GetRequiredService<RedisRevocationBus>());
            services.AddHostedService(sp => sp.GetRequiredService<RedisRevocationBus>());
            services.AddSingleton<IStoreReadiness, RedisReadiness>();
            services.AddSingleton<ISigningKeyStore, RedisSigningKeyStore>();
            services.AddSingleton<ILegacySessionStore, RedisLegacySessionStore>();
            services.AddSingleton<IReplayGuard, RedisReplayGuard>();
            services.AddOptions<Microsoft.AspNetCore.DataProtection.KeyManagement.KeyManagementOptions>()
                .Configure<RedisConnection>((o, connection) => o.XmlRepository = new RedisXmlRepository(connection, settings.Redis.DataProtectionKey));
        }
        else
        {
            services.AddSingleton<ISessionStore, InMemorySessionStore>();
            services.AddSingleton<ISessionRevocationBus, InProcessRevocationBus>();
            services.AddSingleton<IStoreReadiness, InMemoryStoreReadiness>();
            services.AddSingleton<ISigningKeyStore, InMemorySigningKeyStore>();
            services.AddSingleton<ILegacySessionStore, NoLegacySessionStore>();
            services.AddSingleton<IReplayGuard, InMemoryReplayGuard>();
        }
    }

    private static void AddGatewaySessions(this IServiceCollection services)
    {
        services.AddSingleton<SessionCache>();
        services.AddSingleton<SessionRecordProtector>();
        services.AddSingleton<SessionManager>();
        services.AddSingleton<SessionCookies>();
    }

    private static void AddGatewayAuth(this IServiceCollection services, GatewayOptions settings)
    {
        // Resolved from DI per request instead of ActivatorUtilities reflection (the authentication provider checks DI first).
        services.AddTransient<GatewaySessionHandler>();
        var auth = services.AddAuthentication(GatewaySessionSchemeOptions.Scheme)
            .AddScheme<GatewaySessionSchemeOptions, GatewaySessionHandler>(GatewaySessionSchemeOptions.Scheme, _ => { });
        if (settings.Login.OidcEnabled) auth.AddGatewayOidc(settings.Login.Oidc);

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
                options.AddPolicy(name, p => p.RequireAuthenticatedUser().RequireRole(policy.Roles));
            }
        });
    }

    private static void AddGatewayRouting(this IServiceCollection services)
    {
        services.AddSingleton<ProxyConfigStatus>();
        services.AddSingleton<ProxyConfigValidator>();
        services.AddSingleton<IGatewayEndpointPaths, GatewayEndpointPaths>();
        services.AddSingleton<FileProxyConfigProvider>();
        services.AddSingleton<Yarp.ReverseProxy.Configuration.IProxyConfigProvider>(sp => sp.GetRequiredService<FileProxyConfigProvider>());
        services.AddHostedService(sp => sp.GetRequiredService<FileProxyConfigProvider>());
        services.AddReverseProxy();
    }

    private static void AddGatewayIdentity(this IServiceCollection services)
    {
        services.AddSingleton<IdentityHeaderRules>();
        services.AddSingleton<SigningKeyRing>();
        services.AddHostedService(sp => sp.GetRequiredService<SigningKeyRing>());
        services.AddSingleton<AssertionIssuer>();
        services.AddSingleton<Yarp.ReverseProxy.Transforms.Builder.ITransformProvider, IdentityTransformProvider>();
    }

    private static void AddGatewayLogin(this IServiceCollection services)
    {
        services.AddAntiforgery(o =>
        {
            o.Cookie.Name = SessionCookies.AntiforgeryCookieName;
            o.FormFieldName = "__gw_af";
            o.Cookie.SecurePolicy = Microsoft.AspNetCore.Http.CookieSecurePolicy.SameAsRequest;
        });
        services.AddSingleton<Security.FormTokens>();
        services.AddSingleton<OidcMetadata>();
        services.AddSingleton<DevUserDirectory>();
        services.AddSingleton<LoginAttemptLimiter>();
        services.AddSingleton<DevLoginService>();
        services.AddSingleton<LoginService>();
    }

    private static void AddGatewayLogout(this IServiceCollection services)
    {
        services.AddSingleton<LegacySessionCookies>();
        services.AddSingleton<LogoutService>();
        services.AddSingleton<BackchannelLogoutService>();
    }

    private static void AddGatewayAdmin(this IServiceCollection services)
    {
        services.AddSingleton<SessionAdminEndpoint>();
    }

    private static void AddGatewayForwarding(this IServiceCollection services, ForwardingOptions forwarding)
    {
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
