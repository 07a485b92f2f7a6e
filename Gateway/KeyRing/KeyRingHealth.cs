namespace Gateway.KeyRing;

/// <summary>
/// Whether this replica holds a DataProtection key ring at all. Until one has loaded, a cookie or record that fails to
/// decrypt may be perfectly valid, so callers answer 503 instead of treating it as forged. Once a ring has loaded it
/// stays usable: a failed refresh keeps the ring DataProtection already has, and nothing a client sends can take
/// that away (a cookie under an unknown key is just an invalid cookie).
/// </summary>
internal sealed class KeyRingHealth
{
    private volatile bool _loaded;

    public bool Usable => _loaded;

    public void Loaded() => _loaded = true;
}
