using Gateway.Configuration;
using Gateway.Redis;
using Gateway.Sessions;

namespace Gateway.LegacySignIn;

/// <summary><c>Gateway:LegacySignIn</c>: nothing is registered unless it is enabled, so the hot path of a gateway without it is unchanged.</summary>
internal static class LegacySignInRegistration
{
    public static IServiceCollection AddGatewayLegacySignIn(this IServiceCollection services, LegacySignInOptions options)
    {
        services.AddGatewaySection(o => o.LegacySignIn);
        if (!options.Enabled) return services;
        services.AddGatewaySection(o => o.Session);
        services.AddSingleton<ICmsSessionFormat>(new ExpressSessionFormat(options.Secrets, options.RedisKeyPrefix, options.CookiePath));
        services.AddCmsRedisStore(options.Redis.Configuration);
        services.AddHttpClient(CmsUserDirectory.HttpClientName, c => c.Timeout = Timeout.InfiniteTimeSpan)
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler { AllowAutoRedirect = false, UseCookies = false });
        services.AddSingleton<CmsUserDirectory>();
        services.AddSingleton<CmsSessions>();
        services.AddSingleton<ISessionStartHook>(sp => sp.GetRequiredService<CmsSessions>());
        services.AddSingleton<ISessionEndObserver>(sp => sp.GetRequiredService<CmsSessions>());
        services.AddSingleton<ISessionEndingHook>(sp => sp.GetRequiredService<CmsSessions>());
        services.AddSingleton<Logout.ILogoutParticipant>(sp => sp.GetRequiredService<CmsSessions>());
        services.AddHostedService<CmsSessionSweeper>();
        if (options.Adopt.Enabled) services.AddSingleton<ISessionAdopter, CmsSessionAdoption>();
        services.AddSingleton<Yarp.ReverseProxy.Transforms.Builder.ITransformProvider, CmsCookieTransformProvider>();
        return services;
    }

    /// <summary>After access is decided, before the proxy: a signed-in request's CMS session is there, or the answer is 503.</summary>
    public static IApplicationBuilder UseGatewayLegacySignIn(this IApplicationBuilder app, LegacySignInOptions options) =>
        options.Enabled ? app.UseMiddleware<CmsSessionKeeper>() : app;
}
