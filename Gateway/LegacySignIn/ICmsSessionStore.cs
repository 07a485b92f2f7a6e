namespace Gateway.LegacySignIn;

/// <summary>
/// The CMS's session store (its Redis), by raw key. Every call throws <see cref="Sessions.StoreUnavailableException"/>
/// when the store cannot be reached: a signed-in request then answers 503, never goes upstream as a guest.
/// </summary>
internal interface ICmsSessionStore
{
    Task WriteAsync(string key, string record, TimeSpan timeToLive, CancellationToken cancellationToken);

    Task<string?> ReadAsync(string key, CancellationToken cancellationToken);

    /// <summary>The record at <paramref name="key"/>, deleted in the same step (GETDEL): of callers racing for it, one gets it.</summary>
    Task<string?> TakeAsync(string key, CancellationToken cancellationToken);

    Task<bool> DeleteAsync(string key, CancellationToken cancellationToken);

    /// <summary>
    /// The record at <paramref name="key"/>, and in the same round trip notes that the gateway session holding
    /// <paramref name="sessionId"/> was in use at <paramref name="now"/> (the registry the sweeper reads).
    /// </summary>
    Task<string?> ReadAndNoteUseAsync(string key, string sessionId, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Notes that a gateway session holding <paramref name="sessionId"/> was in use at <paramref name="now"/>.</summary>
    Task NoteUseAsync(string sessionId, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Forgets <paramref name="sessionId"/> in the registry.</summary>
    Task ForgetAsync(string sessionId, CancellationToken cancellationToken);

    /// <summary>Up to <paramref name="count"/> registered CMS session ids last used before <paramref name="before"/> (all of them with <see cref="DateTimeOffset.MaxValue"/>).</summary>
    Task<IReadOnlyList<string>> UnusedSinceAsync(DateTimeOffset before, int count, CancellationToken cancellationToken);
}
