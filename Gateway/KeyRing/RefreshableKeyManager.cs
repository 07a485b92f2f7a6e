using Microsoft.AspNetCore.DataProtection.KeyManagement;

namespace Gateway.KeyRing;

/// <summary>
/// DataProtection's key manager with one addition: <see cref="ExpireCachedRing"/> makes the cached key ring stale, so
/// DataProtection rebuilds it on a background task while every caller keeps using the stale one. DataProtection
/// itself only offers a forced refresh that blocks the calling request thread on the store.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "The sources are never disposed: see ExpireCachedRing.")]
internal sealed class RefreshableKeyManager(IKeyManager inner) : IKeyManager
{
    private readonly Lock _gate = new();
    private CancellationTokenSource _expiry = new();
    private CancellationToken _watched;

    public IKey CreateNewKey(DateTimeOffset activationDate, DateTimeOffset expirationDate) => inner.CreateNewKey(activationDate, expirationDate);

    public IReadOnlyCollection<IKey> GetAllKeys() => inner.GetAllKeys();

    public void RevokeAllKeys(DateTimeOffset revocationDate, string? reason = null) => inner.RevokeAllKeys(revocationDate, reason);

    public void RevokeKey(Guid keyId, string? reason = null) => inner.RevokeKey(keyId, reason);

    /// <summary>Ours, which also fires when the inner manager's fires (it does on creating or revoking a key).</summary>
    public CancellationToken GetCacheExpirationToken()
    {
        var innerToken = inner.GetCacheExpirationToken();
        bool watchNew;
        CancellationToken ours;
        lock (_gate)
        {
            watchNew = innerToken != _watched;
            if (watchNew) _watched = innerToken;
            ours = _expiry.Token;
        }
        // One registration per token the inner manager hands out, and it hands out a new one only per key change.
        if (watchNew) innerToken.UnsafeRegister(static state => ((RefreshableKeyManager)state!).ExpireCachedRing(), this);
        return ours;
    }

    public void ExpireCachedRing()
    {
        CancellationTokenSource expired;
        lock (_gate)
        {
            expired = _expiry;
            _expiry = new CancellationTokenSource();
        }
        // Never disposed, here or at shutdown: the ring cached with its token keeps reading it, and a request still
        // running during shutdown may expire the ring (a disposed source would throw, a 500). It holds no unmanaged
        // resource (no wait handle is ever asked of it).
        expired.Cancel();
    }
}
