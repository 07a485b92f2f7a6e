namespace Gateway.Login;

/// <summary>
/// Failed-login counters shared by every replica (Redis), so N replicas do not give an attacker N times the attempts.
/// Calls throw <see cref="Sessions.StoreUnavailableException"/> when the store cannot be reached; the limiter then
/// falls back to its own per-replica counts, which it keeps all along.
/// </summary>
internal interface ILoginAttemptStore
{
    /// <summary>
    /// One more attempt for each key still under its limit, each in one atomic step, returning each key's count with
    /// this attempt and the window it was counted in (a key at its limit counts nothing and returns limit + 1 and
    /// window 0). A key's window starts at its first attempt and lasts <paramref name="window"/>.
    /// </summary>
    Task<LoginAttemptStoreTake[]> TakeAsync(IReadOnlyList<string> keys, IReadOnlyList<int> limits, TimeSpan window, CancellationToken cancellationToken);

    /// <summary>One attempt back for each key whose current window is the one given (0: skipped); never below zero.</summary>
    Task GiveBackAsync(IReadOnlyList<string> keys, IReadOnlyList<long> windows, CancellationToken cancellationToken);
}

/// <summary>A key's count with the attempt just taken, and the id of the window it was counted in (0: not counted).</summary>
internal readonly record struct LoginAttemptStoreTake(long Count, long Window);
