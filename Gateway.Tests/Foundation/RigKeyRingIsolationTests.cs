using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;

namespace Gateway.Tests.Foundation;

/// <summary>
/// In-memory gateways under test share one DataProtection ring per test process, never the user's ~/.aspnet, and a
/// test that revokes keys does it in a ring of its own: CI once failed when a revocation in the shared place reached a
/// test running beside it.
/// </summary>
public sealed class RigKeyRingIsolationTests
{
    [Fact]
    public async Task Revoking_every_key_of_a_private_ring_leaves_the_shared_ring_of_other_in_memory_gateways_usable()
    {
        byte[] payload;
        await using (var shared = await GatewayHost.StartAsync(new GatewayConfig()))
            payload = shared.Services.GetRequiredService<IDataProtectionProvider>().CreateProtector("rig-isolation").Protect([1, 2, 3]);

        await using (var revoking = await GatewayHost.StartAsync(new GatewayConfig { PrivateKeyRing = true }))
        {
            var own = revoking.Services.GetRequiredService<IDataProtectionProvider>().CreateProtector("rig-isolation");
            var ownPayload = own.Protect([4]);
            revoking.Services.GetRequiredService<IKeyManager>().RevokeAllKeys(DateTimeOffset.UtcNow.AddSeconds(1), "test: isolation");
            // The revocation took hold in its own ring (read again in the background).
            Assert.NotNull(await Poll.Until(() => Task.FromResult<object?>(Refuses(own, ownPayload) ? true : null), 15_000));
        }

        // A gateway started afterwards reads the shared ring afresh: the key the first one used is not revoked there.
        await using var later = await GatewayHost.StartAsync(new GatewayConfig());
        Assert.Equal([1, 2, 3], later.Services.GetRequiredService<IDataProtectionProvider>().CreateProtector("rig-isolation").Unprotect(payload));
    }

    private static bool Refuses(IDataProtector protector, byte[] payload)
    {
        try
        {
            protector.Unprotect(payload);
            return false;
        }
        catch (System.Security.Cryptography.CryptographicException)
        {
            return true;
        }
    }
}
