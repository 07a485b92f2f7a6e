using Gateway.Configuration;
using Gateway.Observability;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.AspNetCore.DataProtection.KeyManagement.Internal;
using Microsoft.Extensions.Options;

namespace Gateway.KeyRing;

/// <summary>
/// Encryption at rest of the DataProtection key ring, the guard in front of its repository, and the provider that
/// refreshes it in the background instead of on a request thread. Call after <c>AddDataProtection</c>.
/// </summary>
internal static class KeyRingRegistration
{
    public static IServiceCollection AddGatewayKeyRing(this IServiceCollection services, KeyRingOptions settings)
    {
        services.AddGatewaySection(o => o.KeyRing);
        services.AddSingleton<KeyEncryptionKeys>();
        services.AddSingleton(sp => new KeyRingHealth(sp.GetRequiredService<Microsoft.AspNetCore.DataProtection.IDataProtectionProvider>));
        var encrypt = settings.IsConfigured;
        if (encrypt)
            services.AddOptions<KeyManagementOptions>().Configure<KeyEncryptionKeys>((o, keys) => o.XmlEncryptor = new AesGcmXmlEncryptor(keys));
        // Post-configure: after the storage choice set the repository (the default file-system one stays unwrapped).
        services.AddSingleton<IPostConfigureOptions<KeyManagementOptions>>(sp => new PostConfigureOptions<KeyManagementOptions>(Options.DefaultName, o =>
        {
            if (o.XmlRepository is null or KeyRingGuard) return;
            o.XmlRepository = new KeyRingGuard(o.XmlRepository, sp.GetRequiredService<GatewayMetrics>(), encrypt,
                sp.GetRequiredService<ILoggerFactory>().CreateLogger("Gateway.KeyRing"));
        }));

        var keyManager = Replace<IKeyManager>(services);
        services.AddSingleton(sp => new RefreshableKeyManager(keyManager(sp)));
        services.AddSingleton<IKeyManager>(sp => sp.GetRequiredService<RefreshableKeyManager>());
        var keyRingProvider = Replace<IKeyRingProvider>(services);
        services.AddSingleton(sp => new BackgroundRefreshKeyRingProvider(keyRingProvider(sp),
            sp.GetRequiredService<RefreshableKeyManager>(), sp.GetRequiredService<KeyRingHealth>(), sp.GetRequiredService<GatewayMetrics>(),
            sp.GetService<TimeProvider>() ?? TimeProvider.System, sp.GetRequiredService<ILoggerFactory>().CreateLogger("Gateway.KeyRing")));
        services.AddSingleton<IKeyRingProvider>(sp => sp.GetRequiredService<BackgroundRefreshKeyRingProvider>());
        return services;
    }

    /// <summary>Takes DataProtection's registration of <typeparamref name="TService"/> out and returns how to build what it registered.</summary>
    private static Func<IServiceProvider, TService> Replace<TService>(IServiceCollection services) where TService : class
    {
        var registered = services.LastOrDefault(d => d.ServiceType == typeof(TService))
            ?? throw new InvalidOperationException($"{typeof(TService).Name} is not registered: call AddDataProtection before AddGatewayKeyRing.");
        services.Remove(registered);
        return sp => (TService)(registered.ImplementationInstance
            ?? registered.ImplementationFactory?.Invoke(sp)
            ?? ActivatorUtilities.CreateInstance(sp, registered.ImplementationType!));
    }
}
