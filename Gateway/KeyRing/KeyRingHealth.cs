using System.Security.Cryptography;
using Microsoft.AspNetCore.DataProtection;

namespace Gateway.KeyRing;

/// <summary>
/// Whether this replica holds a DataProtection key ring at all, for the request path and for readiness alike. Until one
/// has loaded, a cookie or record that fails to decrypt may be perfectly valid, so callers answer 503 instead of
/// treating it as forged. Once a ring has loaded it stays usable: a failed refresh keeps the ring DataProtection already
/// has, so a Redis outage never makes a loaded replica unready, and nothing a client sends can take that away (a cookie
/// under an unknown key is just an invalid cookie).
/// </summary>
/// <param name="dataProtection">
/// How readiness reaches DataProtection to try a load; resolved on first use, since DataProtection's own key-ring
/// provider depends on this class.
/// </param>
internal sealed class KeyRingHealth(Func<IDataProtectionProvider>? dataProtection = null)
{
    private volatile bool _loaded;
    private IDataProtector? _probe;

    public bool Usable => _loaded;

    public void Loaded() => _loaded = true;

    /// <summary>
    /// Usable, or (readiness and the warm-up ask) tries to load the ring now with one small protect: a replica that
    /// started during an outage becomes ready once the store answers.
    /// </summary>
    public bool TryLoad()
    {
        if (_loaded || dataProtection is null) return _loaded;
        try
        {
            (_probe ??= dataProtection().CreateProtector("Gateway.Readiness.v1")).Protect([1]);
            return true;
        }
        catch (CryptographicException)
        {
            return false;
        }
    }
}
