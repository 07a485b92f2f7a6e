namespace Gateway.Sessions;

/// <summary>
/// The plain session store: keys, bytes and time, no HTTP. Every call either completes or throws
/// <see cref="StoreUnavailableException"/>; callers never mistake an outage for "no session".
/// </summary>
internal interface ISessionStore
{
    Task CreateAsync(SessionKey key, byte[] record, TimeSpan ttl, CancellationToken cancellationToken);

    Task<byte[]?> GetAsync(SessionKey key, CancellationToken cancellationToken);

    /// <summary>Extends the expiry to <paramref name="ttl"/>; false when the session is gone.</summary>
    Task<bool> TouchAsync(SessionKey key, TimeSpan ttl, CancellationToken cancellationToken);

    /// <summary>Deletes the record and its user-index entry; false when it was already gone.</summary>
    Task<bool> DeleteAsync(SessionKey key, CancellationToken cancellationToken);

    Task<IReadOnlyList<SessionKey>> ListByUserAsync(string userTag, CancellationToken cancellationToken);

    Task<IReadOnlyList<SessionKey>> DeleteByUserAsync(string userTag, CancellationToken cancellationToken);

    /// <summary>Deletes every session of every user; returns the keys deleted.</summary>
    Task<IReadOnlyList<SessionKey>> DeleteAllAsync(CancellationToken cancellationToken);
}
