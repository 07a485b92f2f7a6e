namespace Gateway.Sessions;

/// <summary>Told about sessions that ended by revocation (logout, "your sessions", back-channel), with their records, after the store let them go.</summary>
internal interface ISessionEndObserver
{
    /// <summary>Must not throw for an outage of its own: the session has already ended.</summary>
    Task SessionsEndedAsync(IReadOnlyList<SessionRecord> records, CancellationToken cancellationToken);

    /// <summary>Every session ended at once (revoke all), without their records; must not throw for an outage of its own.</summary>
    Task AllSessionsEndedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
