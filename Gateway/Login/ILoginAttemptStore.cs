namespace Gateway.Login;

/// <summary>
/// Failed-login counters shared by every replica (Redis), so N replicas do not give an attacker N times the attempts.
/// Calls throw <see cref="Sessions.StoreUnavailableException"/> when the store cannot be reached; the limiter then
/// falls back to its own per-replica counts, which it keeps all along.
/// </summary>
internal interface ILoginAttemptStore
{
    /// <summary>
    /// One more attempt for each key, each in one atomic step, returning each key's count in its window with this one
    /// (a key's window starts at its first attempt and lasts <paramref name="window"/>).
    /// </summary>
    Task<long[]> TakeAsync(IReadOnlyList<string> keys, TimeSpan window, CancellationToken cancellationToken);

    /// <summary>One attempt back for each key still in its window; never below zero.</summary>
    Task GiveBackAsync(IReadOnlyList<string> keys, CancellationToken cancellationToken);
}
