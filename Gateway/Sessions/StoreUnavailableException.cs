namespace Gateway.Sessions;

/// <summary>The store could not answer (down, timed out, circuit open). Callers fail closed: 503, never anonymous-as-signed-in.</summary>
internal sealed class StoreUnavailableException(string message, Exception? inner = null) : Exception(message, inner);
