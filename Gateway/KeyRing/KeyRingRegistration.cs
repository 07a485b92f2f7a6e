using Gateway.Configuration;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.Extensions.Options;

namespace Gateway.KeyRing;

/// <summary>Encryption at rest of the DataProtection key ring, and the guard in front of its repository.</summary>
internal static class KeyRingRegistration
{
    public static IServiceCollection AddGatewayKeyRing(this IServiceCollection services, GatewayOptions settings)
    {
        services.AddSingleton<KeyEncryptionKeys>();
        services.AddSingleton<KeyRingHealth>();
        var encrypt = settings.KeyRing.IsConfigured;
        if (encrypt)
            services.AddOptions<KeyManagementOptions>().Configure<KeyEncryptionKeys>((o, keys) => o.XmlEncryptor = new AesGcmXmlEncryptor(keys));
        // Post-configure: after the storage choice set the repository (the default file-system one stays unwrapped).
        services.AddSingleton<IPostConfigureOptions<KeyManagementOptions>>(sp => new PostConfigureOptions<KeyManagementOptions>(Options.DefaultName, o =>
        {
            if (o.XmlRepository is null or KeyRingGuard) return;
            o.XmlRepository = new KeyRingGuard(o.XmlRepository, sp.GetRequiredService<KeyRingHealth>(), encrypt,
                sp.GetRequiredService<ILoggerFactory>().CreateLogger("Gateway.KeyRing"));
        }));
        return services;
    }
}
