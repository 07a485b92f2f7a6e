namespace Gateway.Sessions;

/// <summary>
/// Runs when one session is about to be revoked (logout), after its record was read and before it is deleted: what it
/// ends must be ended first, since once the record is gone a retry could no longer find it. Throws
/// <see cref="StoreUnavailableException"/> when it cannot; the revocation then fails too and can be retried.
/// </summary>
internal interface ISessionEndingHook
{
    Task EndingAsync(SessionRecord record, CancellationToken cancellationToken);
}
