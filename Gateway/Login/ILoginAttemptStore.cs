namespace Gateway.Login;

/// <summary>
/// Failed-login counters shared by every replica (Redis), so N replicas do not give an attacker N times the attempts.
/// Calls throw <see cref="Sessions.StoreUnavailableException"/> when the store cannot be reached; the limiter then
/// falls back to its own per-replica counts, which it keeps all along.
/// </summary>
internal interface ILoginAttemptStore
{
    /// <summary>The failures counted in the current window of each key (0 for none).</summary>
    Task<long[]> CountsAsync(IReadOnlyList<string> keys, CancellationToken cancellationToken);

    /// <summary>One more failure for each key; a key's window starts at its first failure and lasts <paramref name="window"/>.</summary>
    Task AddFailureAsync(IReadOnlyList<string> keys, TimeSpan window, CancellationToken cancellationToken);
}
