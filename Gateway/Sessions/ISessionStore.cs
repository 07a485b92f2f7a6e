namespace Gateway.Sessions;

/// <summary>
/// The plain session store: keys, bytes and time, no HTTP. Sessions are named by <see cref="SessionHandle"/>
/// (a hash of the id). Every call either completes or throws <see cref="StoreUnavailableException"/>;
/// callers never mistake an outage for "no session".
/// </summary>
internal interface ISessionStore
{
    /// <returns>How many sessions the user's index holds now, this one included.</returns>
    Task<int> CreateAsync(SessionHandle session, byte[] record, TimeSpan ttl, CancellationToken cancellationToken);

    /// <summary>The record, with the latest revoke-all marker that applies to it (the user's or everyone's), or null.</summary>
    Task<StoredSession?> GetAsync(SessionHandle session, CancellationToken cancellationToken);

    /// <summary>
    /// <see cref="GetAsync"/> for several sessions of one user at once, in a fixed number of commands however many there
    /// are (the "your sessions" page); null for each that is gone or revoked.
    /// </summary>
    Task<IReadOnlyList<StoredSession?>> GetManyAsync(string userTag, IReadOnlyList<SessionHandle> sessions, CancellationToken cancellationToken);

    /// <summary>
    /// <see cref="GetAsync"/> for sessions of any users, the lot in one round trip, answered for each in order: its
    /// record (with the revoke-all marker that applies to it), gone, or failed. An outage fails the whole call
    /// (<see cref="StoreUnavailableException"/>); a part of the store failing fails only the sessions it holds, and one
    /// that hangs past the call's time only those, as timed out (<see cref="SessionRead.TimedOut"/>).
    /// </summary>
    Task<SessionRead[]> GetEachAsync(IReadOnlyList<SessionHandle> sessions, CancellationToken cancellationToken);

    /// <summary>
    /// Extends each session's expiry to its <see cref="SessionSlide.Ttl"/>, the lot in one round trip, and answers for
    /// each, in order. An outage fails the whole call (<see cref="StoreUnavailableException"/>); a part of the store
    /// failing (one shard of a cluster) fails only the sessions it holds.
    /// </summary>
    Task<SlideOutcome[]> TouchAsync(IReadOnlyList<SessionSlide> slides, CancellationToken cancellationToken);

    /// <summary>Replaces the record of a live session, keeping its expiry; false when the session is gone.</summary>
    Task<bool> ReplaceAsync(SessionHandle session, byte[] record, CancellationToken cancellationToken);

    /// <summary>
    /// A short lock on one operation of one session across replicas (a token refresh): the holder's token, or null
    /// when another holds it. It expires by itself after <paramref name="ttl"/>.
    /// </summary>
    Task<string?> TryLockAsync(SessionHandle session, string purpose, TimeSpan ttl, CancellationToken cancellationToken);

    /// <summary>Releases the lock only if <paramref name="holder"/> still holds it (it may have expired and been taken).</summary>
    Task UnlockAsync(SessionHandle session, string purpose, string holder, CancellationToken cancellationToken);

    /// <summary>
    /// Deletes the record and its user-index entry; false when it was already gone. Housekeeping of a session past its
    /// absolute lifetime (refused on every read anyway), so not acknowledged by a replica: ending a live session is
    /// <see cref="TakeAsync"/>.
    /// </summary>
    Task<bool> DeleteAsync(SessionHandle session, CancellationToken cancellationToken);

    /// <summary>
    /// Deletes the session and returns its record as it was at that moment, in one atomic step: a write racing it (a
    /// token refresh) either lands before and is returned, or finds the session gone (<see cref="ReplaceAsync"/> is false).
    /// </summary>
    Task<byte[]?> TakeAsync(SessionHandle session, CancellationToken cancellationToken);

    /// <summary>
    /// The user's live sessions, at most <paramref name="max"/>, least recently used first, with when each was last used
    /// (to the touch interval).
    /// </summary>
    Task<IReadOnlyList<IndexedSession>> ListByUserAsync(string userTag, int max, CancellationToken cancellationToken);

    /// <summary>
    /// Marks every session of the user created up to <paramref name="revokedBefore"/> as revoked, then deletes them in
    /// small batches. Returns how many were deleted. The caller moves the mark to its end time with
    /// <see cref="MarkRevokedAsync"/> once done, so no session created while this ran survives.
    /// </summary>
    Task<int> DeleteByUserAsync(string userTag, DateTimeOffset revokedBefore, TimeSpan markerLifetime, CancellationToken cancellationToken);

    /// <summary>The same for every user.</summary>
    Task<int> DeleteAllAsync(DateTimeOffset revokedBefore, TimeSpan markerLifetime, CancellationToken cancellationToken);

    /// <summary>
    /// The store's own clock. Every revocation mark and every session's <see cref="SessionRecord.IssuedAt"/> is read from
    /// it, so the clocks of the replicas never meet in a comparison: one whose clock is behind or ahead can neither
    /// leave a session created before a revocation alive nor revoke one created after it.
    /// </summary>
    Task<DateTimeOffset> NowAsync(CancellationToken cancellationToken);

    /// <summary>
    /// An acknowledged write on the user's shard that changes nothing a read sees: once it returns, every earlier write of
    /// this replica there is on a replica too (a retry confirming what an unacknowledged attempt already did).
    /// </summary>
    Task ConfirmAsync(string userTag, CancellationToken cancellationToken);

    /// <summary>Moves the revoke-all mark of the user (or, with null, of everyone) to <paramref name="revokedBefore"/>.</summary>
    Task MarkRevokedAsync(string? userTag, DateTimeOffset revokedBefore, TimeSpan markerLifetime, CancellationToken cancellationToken);
}

/// <summary>One sliding-expiry write: the session, and the time to live it gets from now.</summary>
internal readonly record struct SessionSlide(SessionHandle Session, TimeSpan Ttl);

/// <summary>What one slide found: the session's expiry moved, the session gone, or nothing known (the store failed for it).</summary>
internal enum SlideOutcome { Slid, Gone, Failed }

/// <summary>What one read of a batch found: the stored session (null when gone or tombstoned), or nothing known (<see cref="Failed"/>).</summary>
internal readonly record struct SessionRead(StoredSession? Stored, bool Failed, bool TimedOut = false)
{
    public static SessionRead Failure => new(null, Failed: true);

    /// <summary>Not answered within the call's time, which other sessions' answers came in: a store that hangs or crawls.</summary>
    public static SessionRead TimeOut => new(null, Failed: true, TimedOut: true);
}

/// <summary>A session in the user's index: its handle and when the sliding-expiry touch last saw it used.</summary>
internal sealed record IndexedSession(SessionHandle Handle, DateTimeOffset LastUsed);

/// <summary>A stored record and the revoke-all marker it must be older than to count as revoked.</summary>
internal sealed record StoredSession(byte[] Record, DateTimeOffset? RevokedBefore)
{
    /// <summary>Whether the revoke-all marker read with the record covers a session issued at <paramref name="issuedAt"/>.</summary>
    public bool Revokes(DateTimeOffset issuedAt) => RevokedBefore is { } mark && issuedAt <= mark;
}
