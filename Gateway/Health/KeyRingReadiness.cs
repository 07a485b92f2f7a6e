using System.Security.Cryptography;
using Microsoft.AspNetCore.DataProtection;

namespace Gateway.Health;

/// <summary>
/// Whether this replica can use its DataProtection key ring (and so read cookies and records). DataProtection
/// caches the ring, so once loaded this costs one small protect, and it keeps working from that cache when a
/// refresh from Redis fails: a Redis outage never makes a loaded replica unready. A replica that never loaded
/// it (started during an outage) is not ready until it has.
/// </summary>
internal sealed class KeyRingReadiness(IDataProtectionProvider dataProtection)
{
    private readonly IDataProtector _probe = dataProtection.CreateProtector("Gateway.Readiness.v1");

    public bool IsUsable()
    {
        try
        {
            _probe.Protect([1]);
            return true;
        }
        catch (CryptographicException)
        {
            return false;
        }
    }
}
