namespace Gateway.Sessions;

/// <summary>The store could not answer (down, timed out, circuit open). Callers fail closed: 503, never anonymous-as-signed-in.</summary>
internal class StoreUnavailableException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// The primary applied the write but no replica acknowledged it in time: a failover now could lose it (a login gone,
/// a logout undone). Reported as failed, never as success; what the write ended stays refused on this replica.
/// </summary>
internal sealed class UnacknowledgedWriteException(string message, object? result = null) : StoreUnavailableException(message)
{
    /// <summary>What the write returned (a taken record, say): its follow-up (publish, provider revocation) still runs.</summary>
    public object? Result { get; } = result;
}
