namespace Gateway.Identity;

/// <summary>A signing key as stored: the private key protected with DataProtection.</summary>
internal sealed record StoredSigningKey(string Kid, DateTimeOffset CreatedAt, DateTimeOffset ActivatesAt, byte[] ProtectedPrivateKey);

/// <summary>Where the generated signing keys live so every replica signs with, and publishes, the same ones.</summary>
internal interface ISigningKeyStore
{
    Task<IReadOnlyList<StoredSigningKey>> LoadAsync(CancellationToken cancellationToken);

    /// <summary>Adds a key unless one with the same kid exists.</summary>
    Task AddAsync(StoredSigningKey key, CancellationToken cancellationToken);

    /// <summary>
    /// Adds the very first key only while the store holds none, in one step: replicas starting together agree on one
    /// first key instead of each signing with its own. False when another was first.
    /// </summary>
    Task<bool> AddFirstAsync(StoredSigningKey key, CancellationToken cancellationToken);
}
