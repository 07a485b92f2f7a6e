namespace Gateway.Routing;

/// <summary>What /readyz and the metrics report about the route file.</summary>
internal sealed class ProxyConfigStatus
{
    private volatile State _state = new(null, null, [], null);

    public sealed record State(DateTimeOffset? LoadedAt, string? LoadedHash, IReadOnlyList<string> LastErrors, DateTimeOffset? LastErrorAt);

    public State Current => _state;

    public void Loaded(DateTimeOffset at, string hash) => _state = new(at, hash, [], null);

    public void Rejected(DateTimeOffset at, IReadOnlyList<string> errors) => _state = _state with { LastErrors = errors, LastErrorAt = at };
}
